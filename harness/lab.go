package harness

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/harness/cluster"
	"github.com/idlab/idlab/harness/cni"
	"github.com/idlab/idlab/harness/fixturetmpl"
	"github.com/idlab/idlab/harness/kubeclient"
	"github.com/idlab/idlab/harness/labfile"
	"github.com/idlab/idlab/harness/nodeimage"
	"github.com/idlab/idlab/internal/certs"
)

// Lab brings the lab up and down.
type Lab struct {
	cfg  Config
	kind *cluster.Kind
	// NodeImage overrides nodeimage.Ensure (tests, or a preset image).
	NodeImage func(ctx context.Context) (nodeimage.Result, error)
	// PyClientImage overrides EnsurePyClientImage (tests).
	PyClientImage func(ctx context.Context) (nodeimage.Result, error)
	// ToolClientImage and AzClientImage override EnsureToolClientImage
	// and EnsureAzClientImage (tests).
	ToolClientImage, AzClientImage func(ctx context.Context) (nodeimage.Result, error)
}

// New validates cfg and returns a Lab.
func New(cfg Config) (*Lab, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Clusters) == 0 {
		return nil, errors.New("lab: no clusters configured")
	}
	if err := cfg.checkExisting(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	cfg.Clusters = slices.Clone(cfg.Clusters)
	for i, c := range cfg.Clusters {
		if c.Name == "" || (c.IssuerURL == "" && c.Kubeconfig == "") || seen[c.Name] {
			return nil, fmt.Errorf("lab: cluster %q: needs a unique name and an issuer URL", c.Name)
		}
		seen[c.Name] = true
		cfg.Clusters[i] = c.withDefaults()
	}
	abs, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	cfg.StateDir = abs
	tmpl, err := kindTemplate(cfg.KindConfig)
	if err != nil {
		return nil, err
	}
	k := cluster.NewKind(tmpl)
	k.KubeconfigDir = abs
	k.ArchiveDir = filepath.Join(abs, "image-archives")
	l := &Lab{cfg: cfg, kind: k}
	l.NodeImage = func(ctx context.Context) (nodeimage.Result, error) {
		return nodeimage.Ensure(ctx, nodeimage.Options{Progress: cfg.Progress, Log: cfg.Log})
	}
	l.PyClientImage = func(ctx context.Context) (nodeimage.Result, error) { return EnsurePyClientImage(ctx, cfg) }
	l.ToolClientImage = func(ctx context.Context) (nodeimage.Result, error) { return EnsureToolClientImage(ctx, cfg) }
	l.AzClientImage = func(ctx context.Context) (nodeimage.Result, error) { return EnsureAzClientImage(ctx, cfg) }
	return l, nil
}

// kindTemplate reads the kind template: path when given; else
// ./kind-config.yaml when there is one (the repository's, in a checkout);
// else the built-in one, so that idlab works from any directory.
func kindTemplate(path string) (*v1alpha4.Cluster, error) {
	if path != "" {
		return cluster.LoadTemplate(path)
	}
	if _, err := os.Stat(DefaultKindConfig); err == nil {
		return cluster.LoadTemplate(DefaultKindConfig)
	}
	return cluster.DefaultTemplate(), nil
}

// step prints a progress line with the time a step took.
func (l *Lab) step(name string) func(err *error) {
	start := time.Now()
	fmt.Fprintf(l.cfg.Progress, "idlab: %s ...\n", name)
	return func(err *error) {
		status := "done"
		if *err != nil {
			status = "FAILED"
		}
		fmt.Fprintf(l.cfg.Progress, "idlab: %s %s in %.1fs\n", name, status, time.Since(start).Seconds())
	}
}

func (l *Lab) serveDir() string        { return filepath.Join(l.cfg.StateDir, "serve-root") }
func (l *Lab) adminSecretFile() string { return filepath.Join(l.serveDir(), adminSecret) }

// The admin API's socket and secret file, in the serve root the emulator's
// container mounts at /data: never on a network, reached by the host
// through the same files.
const (
	adminSocket = "admin.sock"
	adminSecret = "admin.secret"
)

func (l *Lab) keyDir(name string) string { return filepath.Join(l.serveDir(), "keys", name) }

// Up brings the lab up, reusing healthy clusters and images, and writes the
// state file scenarios open.
func (l *Lab) Up(ctx context.Context) (st *State, err error) {
	if l.cfg.existing() {
		return l.upExisting(ctx)
	}
	defer l.step("up")(&err)
	if err := checkDocker(ctx); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(l.serveDir(), 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	// First, so that down finds the clusters of a lab that came half up.
	if err := l.rememberLabFile(); err != nil {
		return nil, err
	}
	if _, _, err := cloud.ParseAdminListen("unix:" + filepath.Join(l.serveDir(), adminSocket)); err != nil {
		return nil, fmt.Errorf("state dir %s: %w", l.cfg.StateDir, err)
	}
	ca, err := certs.LoadOrCreate(filepath.Join(l.serveDir(), "serve"), "idlab lab CA")
	if err != nil {
		return nil, fmt.Errorf("lab CA: %w", err)
	}
	if err := l.checkPort(ctx); err != nil {
		return nil, err
	}
	// The Python client image builds meanwhile: its debootstrap waits on
	// the mirror and dpkg while a cold node image compiles.
	var py nodeimage.Result
	pyDone := make(chan error, 1)
	if l.cfg.PyClient {
		go func() {
			var err error
			py, err = l.PyClientImage(ctx)
			pyDone <- err
		}()
	} else {
		pyDone <- nil
	}
	// So do the third-party client images, one after the other (Debian
	// image builds take one host lock).
	var tools toolImages
	toolsDone := make(chan error, 1)
	if l.cfg.ToolClient {
		go func() { toolsDone <- l.buildToolImages(ctx, &tools) }()
	} else {
		toolsDone <- nil
	}
	var node nodeimage.Result
	if err := l.run("node image", func() error { node, err = l.NodeImage(ctx); return err }); err != nil {
		return nil, err
	}
	// kindest/node images come with kindnet (kind installs it unless told
	// not to); built ones with a static conflist instead.
	net, err := cni.Resolve(l.cfg.CNI, !node.DisableDefaultCNI)
	if err != nil {
		return nil, fmt.Errorf("node image %s: %w", node.Image, err)
	}
	fmt.Fprintf(l.cfg.Progress, "idlab: pod network %s (pods' traffic enters a node on %s)\n", net, net.PodInterface())
	if err := l.run("python client image", func() error { return <-pyDone }); err != nil {
		return nil, err
	}
	if err := l.run("third-party client images", func() error { return <-toolsDone }); err != nil {
		return nil, err
	}
	var emuImage, probeImage string
	if err := l.run("emulator and probe images", func() error {
		if emuImage, err = scratchImage(ctx, "idlab/emulator", l.cfg.IdlabBinary, "idlab"); err != nil {
			return err
		}
		if l.cfg.ProbeBinary != "" {
			probeImage, err = scratchImage(ctx, "idlab/probe", l.cfg.ProbeBinary, "probe")
		}
		return err
	}); err != nil {
		return nil, err
	}
	if err := l.run("signing keys and issuers", l.writeKeysAndIssuers); err != nil {
		return nil, err
	}
	if err := l.run("fixtures", l.copyFixtures); err != nil {
		return nil, err
	}
	cniFile, err := l.writeCNIConfig(net)
	if err != nil {
		return nil, err
	}
	// Each cluster's client images load from the moment it exists, beside
	// the other clusters' creation and all that follows: on a fresh lab
	// this is the longest part of up (azure-cli's image alone is 1.5 GB).
	loads := newBackground(ctx)
	defer loads.stop()
	w := wiring{probeImage: probeImage, pyImage: py.Image, tools: tools, ca: ca, emulatorImage: emuImage, net: net, loads: loads}
	if err := l.run(fmt.Sprintf("clusters %s", l.names()), func() error {
		return l.createClusters(ctx, node, net, cniFile, func(c ClusterConfig) {
			loads.start(c.Name, func(ctx context.Context) error { return l.loadClientImages(ctx, c, w) })
		})
	}); err != nil {
		return nil, err
	}
	// The admin secret exists before the container starts, made by the
	// host user: 0600 and theirs, read by the emulator through the mount.
	if _, err := cloud.LoadOrCreateAdminSecret(l.adminSecretFile()); err != nil {
		return nil, err
	}
	var ip string
	if err := l.run("emulator container", func() error { ip, err = l.startEmulator(ctx, emuImage); return err }); err != nil {
		return nil, err
	}
	st = &State{EmulatorURL: "https://127.0.0.1:" + strconv.Itoa(l.cfg.HostPort), EmulatorIP: ip,
		CAFile:    filepath.Join(l.serveDir(), "serve", certs.CertFile),
		AdminAddr: "unix:" + filepath.Join(l.serveDir(), adminSocket), AdminSecretFile: l.adminSecretFile(),
		ProbeImage: probeImage, EmulatorImage: emuImage, PyClientImage: py.Image, ToolClientImage: tools.Tool, AzClientImage: tools.Az, CNI: string(net), PodInterface: net.PodInterface(), Clusters: map[string]ClusterState{},
		LabFile: l.labFileSource()}
	if err := l.run("emulator ready", func() error { return waitHealthy(ctx, st) }); err != nil {
		return nil, err
	}
	w.emulatorIP = ip
	if err := l.run("cluster DNS, images and pod identity components", func() error { return l.wireClusters(ctx, st, w) }); err != nil {
		return nil, err
	}
	if err := st.write(l.cfg.StateDir); err != nil {
		return nil, err
	}
	st.Dir = l.cfg.StateDir
	return st, nil
}

// buildToolImages makes the third-party client images into t: rclone's,
// and azure-cli's when a cluster gets Azure identities.
func (l *Lab) buildToolImages(ctx context.Context, t *toolImages) error {
	tool, err := l.ToolClientImage(ctx)
	if err != nil {
		return err
	}
	t.Tool = tool.Image
	if !slices.ContainsFunc(l.cfg.Clusters, func(c ClusterConfig) bool { return slices.Contains(c.Components, ComponentAzureWebhook) }) {
		return nil
	}
	az, err := l.AzClientImage(ctx)
	t.Az = az.Image
	return err
}

func (l *Lab) run(name string, f func() error) (err error) {
	defer l.step(name)(&err)
	return f()
}

func (l *Lab) names() string {
	var n []string
	for _, c := range l.cfg.Clusters {
		n = append(n, c.Name)
	}
	return strings.Join(n, ",")
}

// checkPort fails early when the host port is taken by something other than
// our emulator container.
func (l *Lab) checkPort(ctx context.Context) error {
	if out, err := docker(ctx, nil, "ps", "-q", "--filter", "name=^"+EmulatorContainer+"$"); err == nil && out != "" {
		return nil // ours; it is replaced or reused below
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(l.cfg.HostPort)))
	if err != nil {
		return fmt.Errorf("port 127.0.0.1:%d is in use (set IDLAB_PORT to another port): %w", l.cfg.HostPort, err)
	}
	return ln.Close()
}

// writeKeysAndIssuers makes each cluster's SA key pair once (kept across
// runs so a reused cluster keeps verifying) and the issuers file.
func (l *Lab) writeKeysAndIssuers() error {
	var f cloud.IssuersFile
	for _, c := range l.cfg.Clusters {
		dir := l.keyDir(c.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		keyFile, pubFile := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
		if _, err := os.Stat(keyFile); errors.Is(err, os.ErrNotExist) {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				return fmt.Errorf("generate SA key for %s: %w", c.Name, err)
			}
			der, err := x509.MarshalPKIXPublicKey(key.Public())
			if err != nil {
				return err
			}
			if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
				return err
			}
			if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
				return err
			}
		}
		ic := cloud.IssuerConfig{URL: c.IssuerURL, PublicKeyFiles: []string{filepath.Join("keys", c.Name, "sa.pub")}}
		if c.Flavour == labfile.EKS {
			// As eksctl associates an EKS cluster's issuer with IAM.
			ic.AWSAccount = c.Account
		}
		f.Issuers = append(f.Issuers, ic)
	}
	return cloud.WriteIssuers(filepath.Join(l.serveDir(), "issuers.yaml"), f)
}

// copyFixtures puts the fixtures where the container sees them: the AWS
// fixtures in /data/fixtures, and the other clouds' directories beside
// FixturesDir (cloud.FixtureDirs: gcp/, eks/, azure/; when present) in
// /data/fixtures-gcp and so on.
func (l *Lab) copyFixtures() error {
	issuers := map[string]string{}
	for _, c := range l.cfg.Clusters {
		issuers[c.Name] = c.IssuerURL
	}
	return copyFixtures(l.cfg.FixturesDir, l.serveDir(), issuers)
}

// copyFixtures copies the fixtures under fixturesDir (and its sibling
// cloud directories) into serveDir's fixtures*, filling in fixture
// templates (fixturetmpl) with issuers.
func copyFixtures(fixturesDir, serveDir string, issuers map[string]string) error {
	if err := copyYAML(fixturesDir, filepath.Join(serveDir, "fixtures"), issuers); err != nil {
		return err
	}
	for _, oc := range cloud.FixtureDirs() {
		src := filepath.Join(filepath.Dir(filepath.Clean(fixturesDir)), oc.Dir)
		dst := filepath.Join(serveDir, "fixtures-"+oc.Dir)
		if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
			src = "" // an empty directory: no fixtures
		}
		if err := copyYAML(src, dst, issuers); err != nil {
			return err
		}
	}
	return nil
}

// copyYAML replaces dst with the YAML files under src (flattened), fixture
// templates (NAME.tmpl.yaml) filled in with issuers as NAME.yaml; an empty
// src leaves dst empty.
func copyYAML(src, dst string, issuers map[string]string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if src == "" {
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if out, ok := fixturetmpl.OutputName(rel); ok {
			if raw, err = fixturetmpl.Render(rel, raw, issuers); err != nil {
				return err
			}
			rel = out
		}
		return os.WriteFile(filepath.Join(dst, strings.ReplaceAll(rel, string(filepath.Separator), "_")), raw, 0o644)
	})
}

// serveConfigFile is the serve config in the serve root, /data/serve.yaml
// in the emulator's container.
const serveConfigFile = "serve.yaml"

// serveConfig is what the emulator's container serves with, as paths it
// sees under /data: the fixture copies, the issuers, the admin socket and
// secret, the nodes' IMDS, and the lab's region (its first eks cluster's).
func (l *Lab) serveConfig() cloud.ServeConfig {
	sc := cloud.ServeConfig{
		DataDir: "/data/serve", Fixtures: "/data/fixtures", Issuers: "/data/issuers.yaml",
		Listen: "0.0.0.0", HTTPSPort: 443, Region: l.cfg.awsRegion(),
		AdminListen: "unix:/data/" + adminSocket, AdminSecretFile: "/data/" + adminSecret,
		IMDS: l.imdsConfigs(),
		// The container's log is what a failed run exports: keep the
		// decisions in it (a lab's request rate is low).
		LogDecisions: true,
	}
	for _, oc := range cloud.FixtureDirs() {
		oc.Set(&sc, "/data/fixtures-"+oc.Dir)
	}
	return sc
}

// writeCNIConfig writes the conflist the pod network net mounts into every
// node, under the state dir, and returns its path ("" when net brings its
// own).
func (l *Lab) writeCNIConfig(net cni.Name) (string, error) {
	name, data := net.Conflist()
	if name == "" {
		return "", nil
	}
	dir := filepath.Join(l.cfg.StateDir, "cni")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("pod network %s: %w", net, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("pod network %s: %w", net, err)
	}
	return path, nil
}

// createClusters creates missing clusters in parallel, and calls ready with
// each as soon as it is up; a cluster that exists but does not answer, or
// runs another pod network, is deleted and made again.
func (l *Lab) createClusters(ctx context.Context, node nodeimage.Result, net cni.Name, cniFile string, ready func(ClusterConfig)) error {
	var wg sync.WaitGroup
	errs := make([]error, len(l.cfg.Clusters))
	for i, c := range l.cfg.Clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = l.ensureCluster(ctx, c, node, net, cniFile); errs[i] == nil {
				ready(c)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (l *Lab) ensureCluster(ctx context.Context, c ClusterConfig, node nodeimage.Result, net cni.Name, cniFile string) (err error) {
	defer l.step("cluster " + c.Name)(&err)
	exists, err := l.kind.Exists(ctx, c.Name)
	if err != nil {
		return err
	}
	if exists {
		iss, err := l.clusterIssuer(ctx, c.Name)
		var ownKey bool
		if err == nil && iss == c.IssuerURL {
			ownKey, err = l.clusterUsesKey(ctx, c.Name)
		}
		var nets []cni.Name
		nodes := 0
		if err == nil && ownKey {
			nets, nodes, err = l.clusterPodNetworks(ctx, c.Name)
		}
		switch {
		case err == nil && iss == c.IssuerURL && ownKey && slices.Equal(nets, []cni.Name{net}) && nodes == c.NodeCount():
			fmt.Fprintf(l.cfg.Progress, "idlab: cluster %s exists and answers; reusing it\n", c.Name)
			if c.NodeCount() > 1 {
				return l.wireNodes(ctx, c, net)
			}
			return nil
		case err == nil && iss == c.IssuerURL && ownKey && slices.Equal(nets, []cni.Name{net}):
			fmt.Fprintf(l.cfg.Progress, "idlab: cluster %s has %d nodes, not %d; recreating it\n", c.Name, nodes, c.NodeCount())
		case err == nil && iss == c.IssuerURL && ownKey:
			fmt.Fprintf(l.cfg.Progress, "idlab: cluster %s runs pod network %v, not %s; recreating it\n", c.Name, nets, net)
		case err == nil && iss == c.IssuerURL:
			// Another state dir's lab: the emulator would not know its key.
			fmt.Fprintf(l.cfg.Progress, "idlab: cluster %s signs tokens with a key not in %s; recreating it\n", c.Name, l.keyDir(c.Name))
		case err == nil:
			fmt.Fprintf(l.cfg.Progress, "idlab: cluster %s signs tokens as %s, not %s; recreating it\n", c.Name, iss, c.IssuerURL)
		default:
			fmt.Fprintf(l.cfg.Progress, "idlab: cluster %s exists but does not answer (half-created?): %v; recreating it\n", c.Name, err)
		}
		if err := l.kind.Delete(ctx, c.Name); err != nil {
			return err
		}
	}
	if err := emptyDirs(l.nodeCNIDirs(c, net)); err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	if err := l.kind.Create(ctx, l.clusterSpec(c, node, net, cniFile)); err != nil {
		return err
	}
	if c.NodeCount() > 1 {
		return l.wireNodes(ctx, c, net)
	}
	return nil
}

// clusterSpec is what kind makes for c: a one-node cluster as the
// template says, a multi-node one with its nodes and, on a static pod
// network, a fresh CNI config dir per node that wireNodes fills (kind's
// wait for Ready is skipped: no node is Ready before that).
func (l *Lab) clusterSpec(c ClusterConfig, node nodeimage.Result, net cni.Name, cniFile string) cluster.Spec {
	dir := l.keyDir(c.Name)
	spec := cluster.Spec{
		Name: c.Name, NodeImage: node.Image, IssuerURL: c.IssuerURL, JWKSURL: strings.TrimSuffix(c.IssuerURL, "/") + "/keys",
		SigningKeyFile: filepath.Join(dir, "sa.key"), PublicKeysFile: filepath.Join(dir, "sa.pub"),
		DisableDefaultCNI: !net.DefaultCNI(), CNIConfigFile: cniFile, NodeLabels: map[string]string{cni.NodeLabel: string(net)},
	}
	if c.NodeCount() > 1 {
		spec.Nodes = c.NodeCount()
		spec.CNIConfigDirs = l.nodeCNIDirs(c, net)
		spec.NoReadyWait = len(spec.CNIConfigDirs) > 0
	}
	return spec
}

// clusterPodNetworks are the distinct pod networks the cluster's nodes are
// labelled with (cni.NodeLabel), sorted, and how many nodes it has. A node
// without the label is bridge's: clusters made before the label existed
// ran only that.
func (l *Lab) clusterPodNetworks(ctx context.Context, name string) ([]cni.Name, int, error) {
	cs, err := l.clientset(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("nodes of %s: %w", name, err)
	}
	var nets []cni.Name
	for _, n := range nodes.Items {
		net := cni.Name(n.Labels[cni.NodeLabel])
		if net == "" {
			net = cni.Bridge
		}
		if !slices.Contains(nets, net) {
			nets = append(nets, net)
		}
	}
	slices.Sort(nets)
	return nets, len(nodes.Items), nil
}

// clusterIssuer reads the issuer kube-apiserver puts in its tokens from its
// own OIDC discovery document.
// clusterUsesKey reports whether the cluster's published service-account
// keys include this lab's public key for it (keyDir/sa.pub).
func (l *Lab) clusterUsesKey(ctx context.Context, name string) (bool, error) {
	raw, err := os.ReadFile(filepath.Join(l.keyDir(name), "sa.pub"))
	if err != nil {
		return false, fmt.Errorf("lab key of %s: %w", name, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return false, fmt.Errorf("lab key of %s: no PEM block", name)
	}
	own, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return false, fmt.Errorf("lab key of %s: %w", name, err)
	}
	cs, err := l.clientset(ctx, name)
	if err != nil {
		return false, err
	}
	raw, err = cs.Discovery().RESTClient().Get().AbsPath("/openid/v1/jwks").DoRaw(ctx)
	if err != nil {
		return false, fmt.Errorf("read keys of %s: %w", name, err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return false, fmt.Errorf("keys of %s: %w", name, err)
	}
	for _, k := range set.Keys {
		if pub, ok := k.Key.(interface{ Equal(crypto.PublicKey) bool }); ok && pub.Equal(own) {
			return true, nil
		}
	}
	return false, nil
}

func (l *Lab) clusterIssuer(ctx context.Context, name string) (string, error) {
	cs, err := l.clientset(ctx, name)
	if err != nil {
		return "", err
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("read issuer of %s: %w", name, err)
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return "", fmt.Errorf("issuer of %s: %w", name, err)
	}
	return doc.Issuer, nil
}

func (l *Lab) kubeconfigFile(name string) string {
	return filepath.Join(l.cfg.StateDir, "kubeconfig-"+name+".yaml")
}

// clientset writes the cluster's host kubeconfig and returns a client.
func (l *Lab) clientset(ctx context.Context, name string) (*kubernetes.Clientset, error) {
	raw, err := l.kind.Kubeconfig(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(l.kubeconfigFile(name), raw, 0o600); err != nil {
		return nil, err
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of %s: %w", name, err)
	}
	rc.Timeout = 15 * time.Second
	return kubeclient.New(rc)
}

// startEmulator (re)starts the emulator container on kind's network and
// returns its IP there.
func (l *Lab) startEmulator(ctx context.Context, image string) (string, error) {
	// Written before a start or a restart: both read it.
	if err := cloud.WriteServeConfig(filepath.Join(l.serveDir(), serveConfigFile), l.serveConfig()); err != nil {
		return "", err
	}
	serveDir, err := filepath.Abs(l.serveDir())
	if err != nil {
		return "", err
	}
	have, _ := docker(ctx, nil, "inspect", "--format", emulatorInspectFormat, EmulatorContainer)
	want := emulatorContainer{Image: image, Running: true, DataDir: serveDir, HostPort: "127.0.0.1:" + strconv.Itoa(l.cfg.HostPort)}
	if got := parseEmulatorInspect(have); got != want {
		if have != "" {
			fmt.Fprintf(l.cfg.Progress, "idlab: replacing container %s (%s), not this lab's (%s)\n", EmulatorContainer, got, want)
		}
		_, _ = docker(ctx, nil, "rm", "-f", EmulatorContainer)
		args := []string{"run", "-d", "--name", EmulatorContainer, "--network", KindNetwork,
			"--restart", "unless-stopped",
			"-p", fmt.Sprintf("127.0.0.1:%d:443", l.cfg.HostPort),
			"-v", serveDir + ":/data",
			image, "serve", "--config", "/data/" + serveConfigFile}
		if _, err := docker(ctx, nil, args...); err != nil {
			return "", err
		}
	} else {
		// Same image: restart so it reloads its config, fixtures and issuers.
		if _, err := docker(ctx, nil, "restart", EmulatorContainer); err != nil {
			return "", err
		}
	}
	ip, err := docker(ctx, nil, "inspect", "--format", "{{(index .NetworkSettings.Networks \""+KindNetwork+"\").IPAddress}}", EmulatorContainer)
	if err != nil || net.ParseIP(ip) == nil {
		return "", fmt.Errorf("emulator IP on network %s: %q: %v", KindNetwork, ip, err)
	}
	return ip, nil
}

// emulatorContainer is what decides whether a running emulator container
// is this lab's: a container of the same name left by a lab of another
// state dir (another checkout on the machine, or a lab Docker restarted
// with --restart unless-stopped) mounts that lab's serve root, so a
// restart of it would answer on that lab's admin socket, not on ours.
type emulatorContainer struct {
	Image    string
	Running  bool
	DataDir  string // the host directory mounted at /data
	HostPort string // HOST-IP:PORT published for 443
}

func (c emulatorContainer) String() string {
	return fmt.Sprintf("image %s, running %t, /data from %s, port %s", c.Image, c.Running, c.DataDir, c.HostPort)
}

// emulatorInspectFormat prints the fields of emulatorContainer, separated by
// tabs, for parseEmulatorInspect.
const emulatorInspectFormat = `{{.Config.Image}}	{{.State.Running}}	` +
	`{{range .Mounts}}{{if eq .Destination "/data"}}{{.Source}}{{end}}{{end}}	` +
	`{{range (index .HostConfig.PortBindings "443/tcp")}}{{.HostIp}}:{{.HostPort}}{{end}}`

// parseEmulatorInspect reads the output of emulatorInspectFormat; anything
// else (no such container: empty) is the zero value, which no lab wants.
func parseEmulatorInspect(out string) emulatorContainer {
	f := strings.Split(out, "\t")
	if len(f) != 4 {
		return emulatorContainer{}
	}
	return emulatorContainer{Image: f[0], Running: f[1] == "true", DataDir: f[2], HostPort: f[3]}
}

// waitHealthy waits for the emulator's admin API to answer its health
// check with the lab's secret: the admin listener starts last, so the cloud
// listener answers by then too.
func waitHealthy(ctx context.Context, st *State) error {
	c, base, err := st.AdminClient()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_idlab/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				return nil
			case http.StatusUnauthorized:
				// Waiting will not mend it.
				return fmt.Errorf("emulator admin API at %s refuses the secret in %s (HTTP 401): the container was started with another secret file", st.AdminAddr, st.AdminSecretFile)
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	if f := st.Forward; f != nil {
		return fmt.Errorf("emulator did not become healthy at %s in its pod (%s, %s): %v; its log: kubectl --kubeconfig %s -n %s logs -l %s",
			st.AdminAddr, f.Namespace, f.Selector, last, f.Kubeconfig, f.Namespace, f.Selector)
	}
	return fmt.Errorf("emulator did not become healthy at %s: %v\nlast lines of its log:\n%s", st.AdminAddr, last, containerLogs(ctx, EmulatorContainer, 15))
}

// wiring is what wireClusters puts into the clusters.
type wiring struct {
	emulatorIP          string
	probeImage, pyImage string
	tools               toolImages
	ca                  *certs.CA
	emulatorImage       string // the components' image
	net                 cni.Name
	loads               *background // the client image loads, by cluster name
}

// wireClusters makes every cluster ready for the suites, the clusters side
// by side: in each, its DNS and node metadata are pointed at the emulator,
// then its pod identity components deploy (they need the clouds' names to
// resolve), and it waits for its client images (w.loads), which began
// loading when the cluster came up.
func (l *Lab) wireClusters(ctx context.Context, st *State, w wiring) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(l.cfg.Clusters))
	for i, c := range l.cfg.Clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.wireCluster(ctx, c, w); err != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", c.Name, err)
				return
			}
			mu.Lock()
			st.Clusters[c.Name] = ClusterState{Name: c.Name, IssuerURL: c.IssuerURL, Kubeconfig: l.kubeconfigFile(c.Name), Region: c.Region,
				Nodes: ClusterNodes(c)}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// wireCluster is wireClusters for one cluster; each part prints its own
// progress line, so a slow up shows which cluster and part it waits on.
func (l *Lab) wireCluster(ctx context.Context, c ClusterConfig, w wiring) error {
	err := l.run("cluster "+c.Name+": DNS and node metadata to the emulator", func() error {
		cs, err := l.clientset(ctx, c.Name)
		if err != nil {
			return err
		}
		if err := pointDNSAtEmulator(ctx, cs, w.emulatorIP, l.cfg.issuerZones(cloud.Zones())); err != nil {
			return err
		}
		return l.installNodeIMDS(ctx, c, w.emulatorIP)
	})
	if err == nil && len(c.Components) > 0 {
		err = l.run("cluster "+c.Name+": pod identity components", func() error {
			return l.deployClusterComponents(ctx, w.ca, w.emulatorImage, c, w.net)
		})
	}
	return errors.Join(err, w.loads.wait(c.Name))
}

// loadClientImages loads the images the suites' pods run into c: the
// probe into every node, since multi-node rows bind probe pods to workers;
// the Python clients where pods get AWS identities, and the tool images,
// into the first node alone when the workers are pinned (only pods bound
// to them run there, and none of those runs a client image), else into
// every node.
func (l *Lab) loadClientImages(ctx context.Context, c ClusterConfig, w wiring) (err error) {
	p := planClientImages(c, w)
	if len(p.everywhere)+len(p.firstNode) == 0 {
		return nil
	}
	defer l.step(fmt.Sprintf("cluster %s: client images (%d)", c.Name, len(p.everywhere)+len(p.firstNode)))(&err)
	if len(p.everywhere) > 0 {
		if err := l.kind.LoadImages(ctx, c.Name, p.everywhere...); err != nil {
			return err
		}
	}
	if len(p.firstNode) > 0 {
		return l.kind.LoadImagesInto(ctx, c.Name, []string{cluster.NodeName(c.Name, 0)}, p.firstNode...)
	}
	return nil
}

// clientImagePlan is which client images go to every node of a cluster
// and which to its first node alone.
type clientImagePlan struct{ everywhere, firstNode []string }

// planClientImages is loadClientImages' choice for c.
func planClientImages(c ClusterConfig, w wiring) clientImagePlan {
	var p clientImagePlan
	if w.probeImage != "" {
		p.everywhere = append(p.everywhere, w.probeImage)
	}
	if w.pyImage != "" && awsCluster(c) {
		p.firstNode = append(p.firstNode, w.pyImage)
	}
	p.firstNode = append(p.firstNode, w.tools.forCluster(c)...)
	if !c.PinnedWorkers {
		p.everywhere, p.firstNode = append(p.everywhere, p.firstNode...), nil
	}
	return p
}

// Down deletes the clusters, the emulator container, the state file and the
// image archives (gigabytes, made again from Docker in seconds); Docker's
// images stay so the next Up is fast.
func (l *Lab) Down(ctx context.Context) (err error) {
	if l.cfg.existing() {
		return l.downExisting(ctx)
	}
	defer l.step("down")(&err)
	if err := checkDocker(ctx); err != nil {
		return err
	}
	var errs []error
	for _, c := range l.cfg.Clusters {
		if err := l.kind.Delete(ctx, c.Name); err != nil {
			errs = append(errs, err)
		}
		_ = os.Remove(l.kubeconfigFile(c.Name))
		_ = os.Remove(filepath.Join(l.cfg.StateDir, "kubeconfig-"+c.Name)) // kind's own
		_ = os.Remove(filepath.Join(l.cfg.StateDir, "kubeconfig-"+c.Name+".lock"))
	}
	if _, err := docker(ctx, nil, "rm", "-f", EmulatorContainer); err != nil && !strings.Contains(err.Error(), "No such container") {
		errs = append(errs, err)
	}
	// kind's network goes too when nothing else uses it.
	if out, err := docker(ctx, nil, "network", "inspect", "--format", "{{len .Containers}}", KindNetwork); err == nil && out == "0" {
		// Another down may have removed it since the inspect: that is done, not failed.
		if _, err := docker(ctx, nil, "network", "rm", KindNetwork); err != nil && !strings.Contains(err.Error(), "not found") {
			errs = append(errs, err)
		}
	}
	_ = os.Remove(filepath.Join(l.cfg.StateDir, StateFile))
	_ = os.Remove(filepath.Join(l.cfg.StateDir, RememberedLabFile))
	_ = os.RemoveAll(l.serveDir())
	if l.kind.ArchiveDir != "" {
		_ = os.RemoveAll(l.kind.ArchiveDir)
	}
	return errors.Join(errs...)
}

// Status reports each cluster and the emulator.
func (l *Lab) Status(ctx context.Context) ([]string, error) {
	if l.cfg.existing() {
		return l.statusExisting(ctx)
	}
	if err := checkDocker(ctx); err != nil {
		return nil, err
	}
	lines := []string{"lab " + l.describeSource()}
	for _, c := range l.cfg.Clusters {
		state := "absent"
		if ok, _ := l.kind.Exists(ctx, c.Name); ok {
			state = "exists, API not answering"
			if cs, err := l.clientset(ctx, c.Name); err == nil {
				if v, err := cs.Discovery().ServerVersion(); err == nil {
					state = "ready, Kubernetes " + v.GitVersion
				}
			}
		}
		lines = append(lines, fmt.Sprintf("cluster %-6s %s (issuer %s)", c.Name, state, c.IssuerURL))
	}
	emu := "absent"
	if out, err := docker(ctx, nil, "inspect", "--format", "{{.State.Status}} {{.Config.Image}}", EmulatorContainer); err == nil {
		emu = out
	}
	lines = append(lines, fmt.Sprintf("emulator %s (https://127.0.0.1:%d)", emu, l.cfg.HostPort))
	return lines, nil
}

// ExportLogs writes every cluster's node and pod logs and the emulator's log
// under dir, for a failed run.
func (l *Lab) ExportLogs(ctx context.Context, dir string) error {
	if l.cfg.existing() {
		return l.exportExistingLogs(ctx, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	for _, c := range l.cfg.Clusters {
		if ok, _ := l.kind.Exists(ctx, c.Name); ok {
			if err := l.kind.CollectLogs(ctx, c.Name, filepath.Join(dir, c.Name)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	cmd := exec.CommandContext(ctx, "docker", "logs", EmulatorContainer)
	out, err := cmd.CombinedOutput()
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "emulator.log"), out, 0o644)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("emulator log: %w", err))
	}
	return errors.Join(errs...)
}

// labFileSource is the lab file's absolute path, "" for the default lab.
func (l *Lab) labFileSource() string {
	if l.cfg.LabFile == "" {
		return ""
	}
	if p, err := filepath.Abs(l.cfg.LabFile); err == nil {
		return p
	}
	return l.cfg.LabFile
}

// describeSource says where the lab's clusters come from, for status.
func (l *Lab) describeSource() string {
	if src := l.labFileSource(); src != "" {
		if orig, err := rememberedSource(src); err == nil && orig != src {
			return "from " + orig + " (remembered in " + src + ")"
		}
		return "from " + src
	}
	return "default (IDLAB_CLUSTERS or eks,gke,aks)"
}

// LoadImages copies local Docker images into the nodes of the named
// clusters (every cluster of the lab when none is named), as the lab loads
// its own probe image: kind's image loading, no registry.
func (l *Lab) LoadImages(ctx context.Context, images []string, clusters ...string) error {
	targets, err := l.clusterNames(clusters)
	if err != nil {
		return err
	}
	if len(images) == 0 {
		return errors.New("load: no images named")
	}
	if err := checkDocker(ctx); err != nil {
		return err
	}
	if l.cfg.existing() {
		c := l.existingCluster()
		if c.KindCluster == "" {
			return fmt.Errorf("cluster %s is not a kind cluster: push the images where it pulls from", c.Name)
		}
		return l.loadImages(ctx, l.kind, images, []string{c.KindCluster})
	}
	return l.loadImages(ctx, l.kind, images, targets)
}

// loadImages loads images into each cluster of targets with loader,
// trying every cluster whatever the others did.
func (l *Lab) loadImages(ctx context.Context, loader imageLoader, images, targets []string) error {
	var errs []error
	for _, name := range targets {
		if err := l.run(fmt.Sprintf("load %s into %s", strings.Join(images, " "), name), func() error {
			return loader.LoadImages(ctx, name, images...)
		}); err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// clusterNames checks names against the lab's clusters; none names all.
func (l *Lab) clusterNames(names []string) ([]string, error) {
	var all []string
	for _, c := range l.cfg.Clusters {
		all = append(all, c.Name)
	}
	if len(names) == 0 {
		return all, nil
	}
	for _, n := range names {
		if !slices.Contains(all, n) {
			return nil, &NoClusterError{Name: n, Have: all}
		}
	}
	return names, nil
}

// NoClusterError means a cluster was named that the lab does not have.
type NoClusterError struct {
	Name string
	Have []string // the lab's clusters
}

func (e *NoClusterError) Error() string {
	return fmt.Sprintf("the lab has no cluster %q (it has %s)", e.Name, strings.Join(e.Have, ", "))
}
