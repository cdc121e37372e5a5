package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindexec "sigs.k8s.io/kind/pkg/exec"
	"sigs.k8s.io/yaml"
)

// Kind is the Provider for kind clusters on the local Docker daemon.
type Kind struct {
	// Template is the kind cluster config every cluster starts from
	// (kind-config.yaml). Defaults to one control-plane node.
	Template *v1alpha4.Cluster
	// WaitForReady bounds kind's wait for the control plane. Defaults to 3m.
	WaitForReady time.Duration
	// KubeconfigDir receives kind's kubeconfig-NAME files, keeping the
	// user's ~/.kube/config untouched. Defaults to the temp dir.
	KubeconfigDir string
	// ArchiveDir keeps the `docker save` archives LoadImages loads from,
	// one per image, reused across clusters and runs. Defaults to
	// idlab-image-archives in the temp dir.
	ArchiveDir string
	p          *kindcluster.Provider

	mu    sync.Mutex             // guards saves
	saves map[string]*sync.Mutex // one save at a time per archive
}

// NewKind returns a kind provider with the given template.
func NewKind(template *v1alpha4.Cluster) *Kind {
	return &Kind{Template: template, p: kindcluster.NewProvider(kindcluster.ProviderWithDocker())}
}

// LoadTemplate reads a kind v1alpha4 Cluster config (kind-config.yaml).
func LoadTemplate(path string) (*v1alpha4.Cluster, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read kind config: %w", err)
	}
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		return nil, fmt.Errorf("parse kind config %s: %w", path, err)
	}
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" {
		return nil, fmt.Errorf("kind config %s: want kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4", path)
	}
	return &c, nil
}

// DefaultTemplate is the template the lab uses when no kind-config.yaml
// is given or found: the repository's kind-config.yaml (a test keeps the
// two equal), built in so that idlab works from any directory.
func DefaultTemplate() *v1alpha4.Cluster {
	c := &v1alpha4.Cluster{TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"}}
	c.Networking.DisableDefaultCNI = true
	c.Nodes = []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole}}
	return c
}

// Config builds the typed kind config for spec from the template: the lab's
// SA keys mounted over kubeadm's, the issuer flags added to kube-apiserver,
// and the pod network (kindnet or not, a conflist mounted into every node)
// with the node labels.
func (k *Kind) Config(spec Spec) *v1alpha4.Cluster {
	var c v1alpha4.Cluster
	if k.Template != nil {
		c = *k.Template.DeepCopy()
	}
	c.Kind, c.APIVersion = "Cluster", "kind.x-k8s.io/v1alpha4"
	c.Name = spec.Name
	if len(c.Nodes) == 0 {
		c.Nodes = []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole}}
	}
	c.Networking.DisableDefaultCNI = spec.DisableDefaultCNI
	if spec.Nodes > 0 {
		c.Nodes = nodesOf(c.Nodes, spec.Nodes)
	}
	for i := range c.Nodes {
		c.Nodes[i].Image = spec.NodeImage
		if len(spec.CNIConfigDirs) > 0 {
			if i < len(spec.CNIConfigDirs) {
				c.Nodes[i].ExtraMounts = append(c.Nodes[i].ExtraMounts, v1alpha4.Mount{HostPath: spec.CNIConfigDirs[i], ContainerPath: CNIConfigDir, Readonly: true})
			}
		} else if spec.CNIConfigFile != "" {
			c.Nodes[i].ExtraMounts = append(c.Nodes[i].ExtraMounts, v1alpha4.Mount{HostPath: spec.CNIConfigFile,
				ContainerPath: path.Join(CNIConfigDir, filepath.Base(spec.CNIConfigFile)), Readonly: true})
		}
		if len(spec.NodeLabels) > 0 && c.Nodes[i].Labels == nil {
			c.Nodes[i].Labels = map[string]string{}
		}
		maps.Copy(c.Nodes[i].Labels, spec.NodeLabels)
		if c.Nodes[i].Role == v1alpha4.ControlPlaneRole {
			c.Nodes[i].ExtraMounts = append(c.Nodes[i].ExtraMounts,
				v1alpha4.Mount{HostPath: spec.SigningKeyFile, ContainerPath: "/etc/kubernetes/pki/sa.key", Readonly: true},
				v1alpha4.Mount{HostPath: spec.PublicKeysFile, ContainerPath: "/etc/kubernetes/pki/sa.pub", Readonly: true},
			)
		}
	}
	// The control plane must survive a loaded 2-core machine running three
	// clusters: CI saw etcd, kube-apiserver (liveness kills, exit 137) and
	// the controller manager and scheduler (lost leases, exit 1) restart
	// mid-suite. etcd's data goes to the node's /tmp, a tmpfs in every kind
	// node (kind's docker provider runs nodes with --tmpfs /tmp), so no
	// fsync waits on a busy disk; it lives as long as the node container,
	// which is as long as the cluster. With one control plane there is no
	// one to hand a lease to, so leader election is off: a slow lease
	// renewal no longer makes the controller manager or scheduler exit.
	// Without an apiVersion the patch applies to v1beta3 and v1beta4 alike
	// (kind converts extraArgs maps to v1beta4's list).
	c.KubeadmConfigPatches = append(c.KubeadmConfigPatches, `kind: ClusterConfiguration
etcd:
  local:
    dataDir: `+EtcdDataDir+`
controllerManager:
  extraArgs:
    leader-elect: "false"
scheduler:
  extraArgs:
    leader-elect: "false"
`)
	// kind renders kubeadm v1beta3 (extraArgs as a map) below Kubernetes
	// 1.36 and v1beta4 (a list of name/value) from it; each patch applies
	// only to its own version, so the template works for both.
	c.KubeadmConfigPatchesJSON6902 = append(c.KubeadmConfigPatchesJSON6902,
		v1alpha4.PatchJSON6902{Group: "kubeadm.k8s.io", Version: "v1beta3", Kind: "ClusterConfiguration",
			Patch: fmt.Sprintf(`- op: add
  path: /apiServer/extraArgs/service-account-issuer
  value: %q
- op: add
  path: /apiServer/extraArgs/service-account-jwks-uri
  value: %q
`, spec.IssuerURL, spec.JWKSURL)},
		v1alpha4.PatchJSON6902{Group: "kubeadm.k8s.io", Version: "v1beta4", Kind: "ClusterConfiguration",
			Patch: fmt.Sprintf(`- op: add
  path: /apiServer/extraArgs/-
  value: {name: service-account-issuer, value: %q}
- op: add
  path: /apiServer/extraArgs/-
  value: {name: service-account-jwks-uri, value: %q}
`, spec.IssuerURL, spec.JWKSURL)})
	return &c
}

// nodesOf is n nodes made from the template's: its first control-plane
// node, then n-1 workers, each a copy of its first worker (or a plain
// worker when it has none). Mounts and labels are deep-copied, so the
// nodes share nothing with the template or each other.
func nodesOf(tmpl []v1alpha4.Node, n int) []v1alpha4.Node {
	cp := v1alpha4.Node{Role: v1alpha4.ControlPlaneRole}
	worker := v1alpha4.Node{Role: v1alpha4.WorkerRole}
	cpFound, workerFound := false, false
	for _, t := range tmpl {
		switch {
		case t.Role == v1alpha4.ControlPlaneRole && !cpFound:
			cp, cpFound = t, true
		case t.Role == v1alpha4.WorkerRole && !workerFound:
			worker, workerFound = t, true
		}
	}
	out := []v1alpha4.Node{*cp.DeepCopy()}
	for len(out) < n {
		out = append(out, *worker.DeepCopy())
	}
	return out
}

// NodeName is the name kind gives node i of cluster (0 the control plane,
// the others workers in order), which is also its container's: kind's
// docker provider names nodes CLUSTER-ROLE, the second of a role
// CLUSTER-ROLE2 and so on (sigs.k8s.io/kind v0.33.0
// pkg/cluster/internal/providers/common/namer.go MakeNodeNamer), and
// Config makes one control plane followed by the workers.
func NodeName(cluster string, i int) string {
	switch {
	case i <= 0:
		return cluster + "-control-plane"
	case i == 1:
		return cluster + "-worker"
	}
	return cluster + "-worker" + strconv.Itoa(i)
}

// EtcdDataDir is where every lab cluster's etcd keeps its data: on the
// node's tmpfs (see Config).
const EtcdDataDir = "/tmp/idlab-etcd"

// Create makes the cluster with kind and waits for the control plane.
func (k *Kind) Create(ctx context.Context, spec Spec) error {
	wait := k.WaitForReady
	if wait == 0 {
		wait = 3 * time.Minute
	}
	if spec.NoReadyWait {
		wait = 0 // kind skips its wait; the caller readies the nodes
	}
	errc := make(chan error, 1)
	go func() {
		errc <- k.p.Create(spec.Name,
			kindcluster.CreateWithV1Alpha4Config(k.Config(spec)),
			kindcluster.CreateWithNodeImage(spec.NodeImage),
			kindcluster.CreateWithWaitForReady(wait),
			kindcluster.CreateWithKubeconfigPath(k.kubeconfigPath(spec.Name)),
			kindcluster.CreateWithDisplayUsage(false),
			kindcluster.CreateWithDisplaySalutation(false))
	}()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("create cluster %q: %w%s", spec.Name, err, commandOutput(err))
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("create cluster %q: %w", spec.Name, ctx.Err())
	}
}

func (k *Kind) kubeconfigPath(name string) string {
	dir := k.KubeconfigDir
	if dir == "" {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "kubeconfig-"+name)
}

// Delete removes the cluster's containers.
func (k *Kind) Delete(_ context.Context, name string) error {
	if err := k.p.Delete(name, k.kubeconfigPath(name)); err != nil {
		return fmt.Errorf("delete cluster %q: %w", name, err)
	}
	return nil
}

// List names existing kind clusters.
func (k *Kind) List(_ context.Context) ([]string, error) {
	names, err := k.p.List()
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	return names, nil
}

// Exists reports whether a cluster of that name exists.
func (k *Kind) Exists(ctx context.Context, name string) (bool, error) {
	names, err := k.List(ctx)
	return slices.Contains(names, name), err
}

// Kubeconfig returns the external (host) kubeconfig.
func (k *Kind) Kubeconfig(_ context.Context, name string) ([]byte, error) {
	cfg, err := k.p.KubeConfig(name, false)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of %q: %w", name, err)
	}
	return []byte(cfg), nil
}

// LoadImages puts the images into every node's containerd, as `kind load
// docker-image` does, with two differences for speed: each image is saved
// once into an archive (archive) that every node and every cluster loading
// it reads, rather than one `docker save` per node, and the nodes load side
// by side. A node that already has an image with Docker's ID loads it not
// again.
func (k *Kind) LoadImages(ctx context.Context, name string, images ...string) error {
	return k.LoadImagesInto(ctx, name, nil, images...)
}

// LoadImagesInto is LoadImages into the cluster's nodes named in only,
// or into all of them when only is empty: a cluster whose workers run only
// pods bound to them needs the images of the other pods on its first node
// alone. Each node loads its images one after the other, and the nodes
// side by side.
func (k *Kind) LoadImagesInto(ctx context.Context, name string, only []string, images ...string) error {
	all, err := k.p.ListInternalNodes(name)
	if err != nil {
		return fmt.Errorf("nodes of %q: %w", name, err)
	}
	var targets []nodes.Node
	for _, n := range all {
		if len(only) == 0 || slices.Contains(only, n.String()) {
			targets = append(targets, n)
		}
	}
	if len(targets) == 0 {
		return fmt.Errorf("load images into %q: cluster has no nodes (of %d listed, wanted %v)", name, len(all), only)
	}
	ids := map[string]string{}
	for _, img := range images {
		out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", img).Output()
		if err != nil {
			return fmt.Errorf("docker image inspect %s: %w", img, err)
		}
		ids[img] = strings.TrimSpace(string(out))
	}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, n := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, img := range missingImages(images, ids, func(img string) (string, error) { return nodeutils.ImageID(n, img) }) {
				archive, err := k.archive(ctx, img, ids[img])
				if err == nil {
					err = loadArchive(n, archive)
				}
				if err != nil {
					errs[i] = fmt.Errorf("load %s into node %s: %w", img, n.String(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// loadArchive streams one archive into a node's containerd.
func loadArchive(n nodes.Node, archive string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	return nodeutils.LoadImageArchive(n, f)
}

// archive returns a `docker save` archive of img (whose Docker ID is id) in
// k.ArchiveDir, saving it on first use. The file is named by name and ID,
// so a retagged or rebuilt image gets a new one; concurrent loads of one
// image share a single save; and a later run (a warm up) finds it, so it
// saves nothing. Archives unused for ArchiveTTL are removed on each save.
func (k *Kind) archive(ctx context.Context, img, id string) (string, error) {
	dir := k.ArchiveDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "idlab-image-archives")
	}
	path := archivePath(dir, img, id)

	k.mu.Lock()
	if k.saves == nil {
		k.saves = map[string]*sync.Mutex{}
	}
	m := k.saves[path]
	if m == nil {
		m = &sync.Mutex{}
		k.saves[path] = m
	}
	k.mu.Unlock()
	m.Lock()
	defer m.Unlock()

	now := time.Now()
	if _, err := os.Stat(path); err == nil {
		_ = os.Chtimes(path, now, now) // in use: not evicted
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("image archive dir: %w", err)
	}
	removeUnused(dir, now.Add(-ArchiveTTL))
	tmp, err := os.CreateTemp(dir, ".save-*")
	if err != nil {
		return "", fmt.Errorf("image archive: %w", err)
	}
	_ = tmp.Close()
	defer os.Remove(tmp.Name()) // gone after the rename; left by a failure
	if out, err := exec.CommandContext(ctx, "docker", "save", "-o", tmp.Name(), img).CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker save %s: %w: %s", img, err, bytes.TrimSpace(out))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("image archive: %w", err)
	}
	return path, nil
}

// archivePath is where the archive of img, whose Docker ID is id, goes in
// dir: named by both, so a tag that moves to a rebuilt image gets a new file.
func archivePath(dir, img, id string) string {
	sum := sha256.Sum256([]byte(img + "\x00" + id))
	return filepath.Join(dir, hex.EncodeToString(sum[:12])+".tar")
}

// ArchiveTTL is how long an image archive stays unused before a save
// removes it: long enough for the up, e2e-quick and e2e of one CI run, short
// enough that a day of rebuilt probe and emulator images does not pile up.
const ArchiveTTL = time.Hour

// removeUnused removes the files in dir last used before cutoff (archives
// and the temporary files of saves that were killed).
func removeUnused(dir string, cutoff time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(cutoff) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// missingImages are the images a node lacks: those whose ID there (have:
// the node's crictl inspecti) is not the one Docker has (want), as kind
// load docker-image selects its nodes (sigs.k8s.io/kind v0.33.0
// pkg/cmd/kind/load/docker-image/docker-image.go, with
// nodeutils.ImageID). A reused cluster then loads nothing it has; the
// azure-cli image alone is 1.5 GB.
func missingImages(images []string, want map[string]string, have func(string) (string, error)) []string {
	var missing []string
	for _, img := range images {
		if id, err := have(img); err != nil || id != want[img] || id == "" {
			missing = append(missing, img)
		}
	}
	return missing
}

// CollectLogs exports kind's logs for the cluster.
func (k *Kind) CollectLogs(_ context.Context, name, dir string) error {
	if err := k.p.CollectLogs(name, dir); err != nil {
		return fmt.Errorf("collect logs of %q: %w", name, err)
	}
	return nil
}

// commandOutput is the captured output of the command behind a kind error
// (docker's own message for an exit 125, say), which kind's error text omits.
func commandOutput(err error) string {
	if re := kindexec.RunErrorForError(err); re != nil && len(re.Output) > 0 {
		out := re.Output
		if len(out) > 2048 {
			out = out[len(out)-2048:]
		}
		return ": " + string(out)
	}
	return ""
}
