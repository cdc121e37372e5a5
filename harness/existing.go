package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/harness/emulatorpod"
	"github.com/idlab/idlab/harness/issuertrust"
	"github.com/idlab/idlab/harness/kubeclient"
	"github.com/idlab/idlab/harness/labfile"
	"github.com/idlab/idlab/internal/certs"
)

// An existing cluster is one the lab does not create: a lab file names it
// by kubeconfig (labfile.Cluster.Kubeconfig). The lab then
//
//   - trusts the cluster's own service-account issuer as a cloud does: it
//     reads the issuer's discovery document and key set through the API
//     server (issuertrust) and registers that issuer with the emulator with
//     exactly those keys (issuers.yaml jwksFile), with an IAM OIDC provider
//     in the cluster's account for an eks cluster, re-read on every up;
//   - runs the emulator inside the cluster (emulatorpod) in
//     ExistingNamespace, and points the cluster's CoreDNS at its Service
//     for the clouds' host names (never for the issuer's host, which is the
//     cluster's own);
//   - deploys the components that need nothing of a node
//     (ExistingComponents) into SystemNamespace, as on a lab cluster;
//   - leaves the cluster itself alone: down removes only those namespaces,
//     the components' cluster-wide objects (labelled
//     app.kubernetes.io/managed-by=idlab) and the CoreDNS block.
//
// One existing cluster per lab: the host reaches its emulator through a
// port-forward (State.Forward), and a lab has one emulator.

// ExistingNamespace holds the emulator in an existing cluster.
const ExistingNamespace = "idlab-cloud"

// ExistingComponents are the components the lab can deploy into an
// existing cluster: admission webhooks only. The node agents (kube2iam,
// the EKS Pod Identity agent, the GKE metadata server) need the node's
// iptables and the lab's node image, which a cluster the lab did not make
// does not give it.
func ExistingComponents() []string { return []string{ComponentIRSAWebhook, ComponentLabCA} }

// managedBy selects what idlab made in a cluster.
const managedBy = "app.kubernetes.io/managed-by=idlab"

// existing reports whether the lab's clusters are existing ones.
func (c Config) existing() bool {
	return len(c.Clusters) > 0 && c.Clusters[0].Kubeconfig != ""
}

// checkExisting checks a lab of existing clusters: one cluster, no lab
// cluster beside it.
func (c Config) checkExisting() error {
	n := 0
	for _, cl := range c.Clusters {
		if cl.Kubeconfig != "" {
			n++
		}
	}
	switch {
	case n == 0:
		return nil
	case n != len(c.Clusters):
		return errors.New("lab: existing clusters (kubeconfig) and clusters the lab makes cannot be in one lab yet")
	case n > 1:
		return errors.New("lab: one existing cluster per lab: a lab has one emulator, which runs inside it")
	}
	return nil
}

// existingCluster is the lab's one existing cluster.
func (l *Lab) existingCluster() ClusterConfig { return l.cfg.Clusters[0] }

// restConfig reaches an existing cluster: its kubeconfig and context.
func restConfig(c ClusterConfig) (*rest.Config, clientcmdapi.Config, error) {
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: c.Context})
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, raw, fmt.Errorf("cluster %s: kubeconfig %s: %w", c.Name, c.Kubeconfig, err)
	}
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, raw, fmt.Errorf("cluster %s: kubeconfig %s (context %q): %w", c.Name, c.Kubeconfig, c.Context, err)
	}
	return rc, raw, nil
}

// minifiedKubeconfig is raw reduced to context (the current one when
// empty), with its credentials inlined: the kubeconfig the lab's state
// names, so scenarios reach the cluster as ClusterState.Kubeconfig says.
func minifiedKubeconfig(raw clientcmdapi.Config, context string) ([]byte, error) {
	if context != "" {
		if _, ok := raw.Contexts[context]; !ok {
			return nil, fmt.Errorf("kubeconfig has no context %q", context)
		}
		raw.CurrentContext = context
	}
	if err := clientcmdapi.MinifyConfig(&raw); err != nil {
		return nil, err
	}
	if err := clientcmdapi.FlattenConfig(&raw); err != nil {
		return nil, err
	}
	return clientcmd.Write(raw)
}

// configDir holds what the in-cluster emulator's ConfigMap carries.
func (l *Lab) configDir() string { return filepath.Join(l.cfg.StateDir, "emulator-config") }

// upExisting brings the lab up on its existing cluster.
func (l *Lab) upExisting(ctx context.Context) (st *State, err error) {
	defer l.step("up (existing cluster)")(&err)
	c := l.existingCluster()
	if err := os.MkdirAll(l.serveDir(), 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	if err := l.rememberLabFile(); err != nil {
		return nil, err
	}
	rc, raw, err := restConfig(c)
	if err != nil {
		return nil, err
	}
	kc, err := minifiedKubeconfig(raw, c.Context)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	if err := os.WriteFile(l.kubeconfigFile(c.Name), kc, 0o600); err != nil {
		return nil, err
	}
	rc.Timeout = 30 * time.Second
	cs, err := kubeclient.New(rc)
	if err != nil {
		return nil, err
	}
	var trust issuertrust.Trust
	if err := l.run("issuer of "+c.Name, func() error {
		trust, err = issuertrust.Read(ctx, cs.Discovery().RESTClient())
		if err == nil {
			fmt.Fprintf(l.cfg.Progress, "idlab: cluster %s: issuer %s, keys %s (read through its API server)\n", c.Name, trust.Issuer, strings.Join(trust.KeyIDs, ", "))
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	ca, err := certs.LoadOrCreate(filepath.Join(l.serveDir(), "serve"), "idlab lab CA")
	if err != nil {
		return nil, fmt.Errorf("lab CA: %w", err)
	}
	caKey, err := os.ReadFile(filepath.Join(l.serveDir(), "serve", certs.KeyFile))
	if err != nil {
		return nil, fmt.Errorf("lab CA: %w", err)
	}
	secret, err := cloud.LoadOrCreateAdminSecret(l.adminSecretFile())
	if err != nil {
		return nil, err
	}
	files, err := l.existingConfig(c, trust)
	if err != nil {
		return nil, err
	}
	image, probe, err := l.existingImages(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := l.run("emulator in "+c.Name, func() error {
		return deployEmulatorPod(ctx, cs, emulatorpod.Spec{Namespace: ExistingNamespace, Image: image, Files: files, CA: ca, CAKeyPEM: caKey,
			AdminSecret: secret, ConfigHash: configHash(files, ca.PEM, caKey, []byte(secret))})
	}); err != nil {
		return nil, err
	}
	st = &State{EmulatorURL: "https://127.0.0.1", CAFile: filepath.Join(l.serveDir(), "serve", certs.CertFile),
		AdminAddr: "127.0.0.1:" + strconv.Itoa(emulatorpod.AdminPort), AdminSecretFile: l.adminSecretFile(),
		ProbeImage: probe, EmulatorImage: image, LabFile: l.labFileSource(),
		Forward: &Forward{Kubeconfig: l.kubeconfigFile(c.Name), Namespace: ExistingNamespace, Selector: emulatorpod.Selector,
			CloudPort: emulatorpod.CloudPort, AdminPort: emulatorpod.AdminPort},
		Clusters: map[string]ClusterState{c.Name: {Name: c.Name, IssuerURL: trust.Issuer, Kubeconfig: l.kubeconfigFile(c.Name), Region: c.Region}}}
	if err := l.run("emulator ready", func() error { return waitHealthy(ctx, st) }); err != nil {
		return nil, err
	}
	if err := l.run("cluster DNS", func() error {
		svc, err := cs.CoreV1().Services(ExistingNamespace).Get(ctx, emulatorpod.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("emulator Service: %w", err)
		}
		st.EmulatorIP = svc.Spec.ClusterIP
		// The cloud zones only: the issuer's host is the cluster's own
		// (kind's is kubernetes.default.svc.cluster.local, the API server).
		return pointDNSAtEmulator(ctx, cs, svc.Spec.ClusterIP, cloud.Zones())
	}); err != nil {
		return nil, err
	}
	if err := l.run("pod identity components", func() error { return l.deployExistingComponents(ctx, cs, ca, image, c) }); err != nil {
		return nil, err
	}
	if err := st.write(l.cfg.StateDir); err != nil {
		return nil, err
	}
	st.Dir = l.cfg.StateDir
	return st, nil
}

// existingConfig writes the emulator's configuration for c into
// configDir (fixtures, the key set read from the cluster, the issuers file,
// the serve config) and returns it as files by relative path.
func (l *Lab) existingConfig(c ClusterConfig, trust issuertrust.Trust) (map[string][]byte, error) {
	dir := l.configDir()
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		return nil, err
	}
	if err := copyFixtures(l.cfg.FixturesDir, dir, map[string]string{c.Name: trust.Issuer}); err != nil {
		return nil, err
	}
	jwksFile := filepath.Join("keys", c.Name+".jwks")
	if err := os.WriteFile(filepath.Join(dir, jwksFile), trust.JWKS, 0o644); err != nil {
		return nil, err
	}
	if err := cloud.WriteIssuers(filepath.Join(dir, "issuers.yaml"), cloud.IssuersFile{Issuers: []cloud.IssuerConfig{existingIssuer(c, trust, jwksFile)}}); err != nil {
		return nil, err
	}
	dirs := map[string]string{"aws": "fixtures"}
	for _, fd := range cloud.FixtureDirs() {
		// Only the clouds that have fixtures: serve refuses a fixtures
		// directory that is not there, and a ConfigMap volume holds
		// files, so an empty one copyFixtures made is not in the pod.
		if ents, err := os.ReadDir(filepath.Join(dir, "fixtures-"+fd.Dir)); err == nil && len(ents) > 0 {
			dirs[fd.Dir] = "fixtures-" + fd.Dir
		}
	}
	if err := cloud.WriteServeConfig(filepath.Join(dir, emulatorpod.ServeConfigFile), emulatorpod.ServeConfig(c.Region, dirs, "issuers.yaml")); err != nil {
		return nil, err
	}
	return readTree(dir)
}

// existingIssuer is how the emulator trusts c's issuer: the URL its
// tokens carry, its keys as the API server published them, served at
// kube-apiserver's JWKS path; for an eks cluster an IAM OIDC provider in
// its account, as `eksctl utils associate-iam-oidc-provider` makes one.
func existingIssuer(c ClusterConfig, trust issuertrust.Trust, jwksFile string) cloud.IssuerConfig {
	ic := cloud.IssuerConfig{URL: trust.Issuer, JWKSPath: issuertrust.JWKSPath, JWKSFile: jwksFile}
	if c.Flavour == labfile.EKS {
		ic.AWSAccount = c.Account
	}
	return ic
}

// readTree reads every file under dir by slash-separated relative path.
func readTree(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = raw
		return err
	})
	return files, err
}

// configHash digests what the emulator pod runs with, so a change rolls
// it.
func configHash(files map[string][]byte, more ...[]byte) string {
	h := sha256.New()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(files[p]))
		h.Write(files[p])
	}
	for _, m := range more {
		fmt.Fprintf(h, "%d\x00", len(m))
		h.Write(m)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// existingImages are the emulator's image and the probe's: built from the
// binaries and loaded with kind into a kind cluster, or, for another
// cluster, Config.EmulatorImage, which the user pushed where the cluster
// pulls from.
func (l *Lab) existingImages(ctx context.Context, c ClusterConfig) (image, probe string, err error) {
	if c.KindCluster == "" {
		if l.cfg.EmulatorImage == "" {
			return "", "", fmt.Errorf("cluster %s is not a kind cluster (no kindCluster): give --emulator-image, an idlab image pushed where it pulls from", c.Name)
		}
		if l.cfg.ProbeBinary != "" || l.cfg.ProbeImage != "" {
			return "", "", fmt.Errorf("cluster %s is not a kind cluster: the probe image cannot be loaded into it (leave --probe out)", c.Name)
		}
		return l.cfg.EmulatorImage, "", nil
	}
	if err := checkDocker(ctx); err != nil {
		return "", "", err
	}
	err = l.run("emulator and probe images into "+c.KindCluster, func() error {
		image = l.cfg.EmulatorImage
		if image == "" {
			if image, err = scratchImage(ctx, "idlab/emulator", l.cfg.IdlabBinary, "idlab"); err != nil {
				return err
			}
		}
		images := []string{image}
		if probe = l.cfg.ProbeImage; probe != "" {
			images = append(images, probe)
		} else if l.cfg.ProbeBinary != "" {
			if probe, err = scratchImage(ctx, "idlab/probe", l.cfg.ProbeBinary, "probe"); err != nil {
				return err
			}
			images = append(images, probe)
		}
		return l.kind.LoadImages(ctx, c.KindCluster, images...)
	})
	return image, probe, err
}

// deployEmulatorPod applies the emulator's objects and waits until its
// pod serves.
func deployEmulatorPod(ctx context.Context, cs kubernetes.Interface, spec emulatorpod.Spec) error {
	objs, err := emulatorpod.Objects(spec)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := apply(ctx, cs, o); err != nil {
			return err
		}
	}
	return waitDeployment(ctx, cs, spec.Namespace, emulatorpod.Name, 3*time.Minute)
}

// deployExistingComponents deploys c's components into the existing
// cluster; the lab CA bundle holds the lab CA alone (the lab cannot read
// the nodes' roots), enough for the emulated clouds.
func (l *Lab) deployExistingComponents(ctx context.Context, cs kubernetes.Interface, ca *certs.CA, image string, c ClusterConfig) error {
	d := &deployer{cs: cs, ca: ca, image: image, cluster: c, images: noImages{},
		idlabBinary: l.cfg.IdlabBinary, eksFixtures: l.eksFixturesDir(), progress: l.cfg.Progress,
		nodeRoots: func(context.Context, string) ([]byte, error) { return nil, nil }}
	for _, comp := range components() {
		if !slices.Contains(c.Components, comp.Name()) {
			continue
		}
		if err := comp.Deploy(ctx, d); err != nil {
			return fmt.Errorf("%s: %w", comp.Name(), err)
		}
	}
	return nil
}

// noImages refuses to load images: an existing cluster gets the ones
// existingImages gives it.
type noImages struct{}

func (noImages) LoadImages(_ context.Context, cluster string, images ...string) error {
	return fmt.Errorf("cluster %s is an existing one: the lab loads no more images into it (%s)", cluster, strings.Join(images, " "))
}

// downExisting removes what the lab put into its existing cluster, and
// its state; the cluster stays.
func (l *Lab) downExisting(ctx context.Context) (err error) {
	defer l.step("down (existing cluster)")(&err)
	c := l.existingCluster()
	rc, _, err := restConfig(c)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	errs := []error{removeFromCluster(ctx, cs)}
	_ = os.Remove(l.kubeconfigFile(c.Name))
	_ = os.Remove(filepath.Join(l.cfg.StateDir, StateFile))
	_ = os.Remove(filepath.Join(l.cfg.StateDir, RememberedLabFile))
	_ = os.RemoveAll(l.configDir())
	_ = os.RemoveAll(l.serveDir())
	return errors.Join(errs...)
}

// labNamespaces are the namespaces the lab makes in an existing cluster:
// the emulator's, the components', and the lab CA webhook's readiness
// check's.
func labNamespaces() []string {
	return []string{ExistingNamespace, SystemNamespace, labCACheckNamespace}
}

// removeFromCluster deletes what idlab put into a cluster it did not
// make: the CoreDNS block first (so no pod resolves a cloud to a Service
// about to go), the webhook configurations (so no admission calls a
// deleted webhook), the components' cluster roles and bindings, then the
// lab's namespaces; absent objects are not errors.
func removeFromCluster(ctx context.Context, cs kubernetes.Interface) error {
	var errs []error
	if err := restoreCoreDNS(ctx, cs); err != nil {
		errs = append(errs, err)
	}
	ignoreAbsent := func(what string, err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", what, err))
		}
	}
	sel := metav1.ListOptions{LabelSelector: managedBy}
	del := metav1.DeleteOptions{}
	// Listed, then deleted one by one by name: what is deleted is exactly
	// what the selector listed.
	if l, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, sel); err != nil {
		errs = append(errs, err)
	} else {
		for _, o := range l.Items {
			ignoreAbsent("webhook configuration "+o.Name, cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, o.Name, del))
		}
	}
	if l, err := cs.RbacV1().ClusterRoleBindings().List(ctx, sel); err != nil {
		errs = append(errs, err)
	} else {
		for _, o := range l.Items {
			ignoreAbsent("cluster role binding "+o.Name, cs.RbacV1().ClusterRoleBindings().Delete(ctx, o.Name, del))
		}
	}
	if l, err := cs.RbacV1().ClusterRoles().List(ctx, sel); err != nil {
		errs = append(errs, err)
	} else {
		for _, o := range l.Items {
			ignoreAbsent("cluster role "+o.Name, cs.RbacV1().ClusterRoles().Delete(ctx, o.Name, del))
		}
	}
	for _, ns := range labNamespaces() {
		ignoreAbsent("namespace "+ns, cs.CoreV1().Namespaces().Delete(ctx, ns, del))
	}
	return errors.Join(errs...)
}

// restoreCoreDNS takes the lab's block out of the cluster's Corefile.
func restoreCoreDNS(ctx context.Context, cs kubernetes.Interface) error {
	cms := cs.CoreV1().ConfigMaps("kube-system")
	cm, err := cms.Get(ctx, "coredns", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read coredns ConfigMap: %w", err)
	}
	next, err := corefileWithoutEmulator(cm.Data["Corefile"])
	if err != nil || next == cm.Data["Corefile"] {
		return err
	}
	cm.Data["Corefile"] = next
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update coredns ConfigMap: %w", err)
	}
	return nil
}

// statusExisting reports the existing cluster and its emulator pod.
func (l *Lab) statusExisting(ctx context.Context) ([]string, error) {
	c := l.existingCluster()
	lines := []string{"lab " + l.describeSource()}
	rc, _, err := restConfig(c)
	if err != nil {
		return lines, err
	}
	rc.Timeout = 15 * time.Second
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return lines, err
	}
	state := "API not answering"
	if v, err := cs.Discovery().ServerVersion(); err == nil {
		state = "ready, Kubernetes " + v.GitVersion
	}
	lines = append(lines, fmt.Sprintf("cluster %-6s existing (%s, context %q), %s", c.Name, c.Kubeconfig, c.Context, state))
	emu := "absent"
	if d, err := cs.AppsV1().Deployments(ExistingNamespace).Get(ctx, emulatorpod.Name, metav1.GetOptions{}); err == nil {
		emu = fmt.Sprintf("%d/%d ready", d.Status.ReadyReplicas, d.Status.Replicas)
	}
	lines = append(lines, fmt.Sprintf("emulator deployment %s/%s %s", ExistingNamespace, emulatorpod.Name, emu))
	return lines, nil
}

// exportExistingLogs writes the emulator pod's log under dir.
func (l *Lab) exportExistingLogs(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rc, _, err := restConfig(l.existingCluster())
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	pods, err := cs.CoreV1().Pods(ExistingNamespace).List(ctx, metav1.ListOptions{LabelSelector: emulatorpod.Selector})
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pods.Items {
		raw, err := cs.CoreV1().Pods(ExistingNamespace).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "emulator-"+p.Name+".log"), raw, 0o644)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
