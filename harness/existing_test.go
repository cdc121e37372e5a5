package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/harness/emulatorpod"
	"github.com/idlab/idlab/harness/issuertrust"
	"github.com/idlab/idlab/harness/labfile"
)

// TestCorefileWithoutEmulator: down takes out exactly the block up put
// in, and leaves a Corefile without one as it is.
func TestCorefileWithoutEmulator(t *testing.T) {
	kindCorefile := ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    kubernetes cluster.local in-addr.arpa ip6.arpa\n    forward . /etc/resolv.conf\n}\n"
	patched, err := corefileWithEmulator(kindCorefile, "10.96.0.50", cloud.Zones())
	require.NoError(t, err)
	tests := []struct {
		name, in, want, errMatch string
	}{
		{name: "the lab's block", in: patched, want: kindCorefile},
		{name: "no block", in: kindCorefile, want: kindCorefile},
		{name: "unterminated", in: ".:53 {\n    " + corednsBegin + "\n}\n", errMatch: "unterminated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := corefileWithoutEmulator(tc.in)
			if tc.errMatch != "" {
				require.ErrorContains(t, err, tc.errMatch)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestRemoveFromCluster: down on an existing cluster deletes the lab's
// namespaces, its labelled webhook configurations and cluster roles, and
// its CoreDNS block, and nothing of the cluster's own.
func TestRemoveFromCluster(t *testing.T) {
	corefile, err := corefileWithEmulator(".:53 {\n    forward . /etc/resolv.conf\n}\n", "10.96.0.50", cloud.Zones())
	require.NoError(t, err)
	lab := map[string]string{"app.kubernetes.io/managed-by": "idlab"}
	ns := func(name string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	cs := fake.NewClientset(
		ns(ExistingNamespace), ns(SystemNamespace), ns("default"), ns("payments"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system"}, Data: map[string]string{"Corefile": corefile}},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "pod-identity-webhook", Labels: lab}},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pod-identity-webhook", Labels: lab}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pod-identity-webhook", Labels: lab}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "system:coredns"}},
	)
	ctx := context.Background()
	require.NoError(t, removeFromCluster(ctx, cs))
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	var left []string
	for _, n := range nss.Items {
		left = append(left, n.Name)
	}
	require.ElementsMatch(t, []string{"default", "payments"}, left)
	whs, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, whs.Items, 1)
	require.Equal(t, "istio-sidecar-injector", whs.Items[0].Name)
	_, err = cs.RbacV1().ClusterRoles().Get(ctx, "cluster-admin", metav1.GetOptions{})
	require.NoError(t, err)
	_, err = cs.RbacV1().ClusterRoles().Get(ctx, "pod-identity-webhook", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err))
	_, err = cs.RbacV1().ClusterRoleBindings().Get(ctx, "system:coredns", metav1.GetOptions{})
	require.NoError(t, err)
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, ".:53 {\n    forward . /etc/resolv.conf\n}\n", cm.Data["Corefile"])
	// Twice is fine: nothing left is not an error.
	require.NoError(t, removeFromCluster(ctx, cs))
}

func TestMinifiedKubeconfig(t *testing.T) {
	raw := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"kind-a": {Server: "https://127.0.0.1:1"}, "prod": {Server: "https://prod.example.com"}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"kind-a": {Token: "ta"}, "prod": {Token: "tp"}},
		Contexts:       map[string]*clientcmdapi.Context{"kind-a": {Cluster: "kind-a", AuthInfo: "kind-a"}, "prod": {Cluster: "prod", AuthInfo: "prod"}},
		CurrentContext: "prod",
	}
	tests := []struct {
		name, context, wantServer, errMatch string
	}{
		{name: "the named context", context: "kind-a", wantServer: "https://127.0.0.1:1"},
		{name: "the current one", wantServer: "https://prod.example.com"},
		{name: "no such context", context: "nope", errMatch: `no context "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := minifiedKubeconfig(*raw.DeepCopy(), tc.context)
			if tc.errMatch != "" {
				require.ErrorContains(t, err, tc.errMatch)
				return
			}
			require.NoError(t, err)
			got, err := clientcmd.Load(out)
			require.NoError(t, err)
			require.Len(t, got.Contexts, 1, "only the lab's context")
			rc, err := clientcmd.RESTConfigFromKubeConfig(out)
			require.NoError(t, err)
			require.Equal(t, tc.wantServer, rc.Host)
		})
	}
}

// TestExistingFromLabFile: a lab file's existing cluster keeps its
// kubeconfig (relative to the lab file), has no lab issuer or node role,
// and runs only the components that need no node.
func TestExistingFromLabFile(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "idlab.yaml")
		require.NoError(t, os.WriteFile(p, []byte("apiVersion: idlab.dev/v1alpha1\nkind: Lab\nclusters:\n"+body), 0o644))
		return p
	}
	tests := []struct {
		name, body string
		want       ClusterConfig
		errMatch   string
	}{
		{name: "kind cluster", body: "  - {name: existing, flavour: eks, region: us-west-2, kubeconfig: kc.yaml, context: kind-idlab-existing, kindCluster: idlab-existing}\n",
			want: ClusterConfig{Name: "existing", Flavour: labfile.EKS, Region: "us-west-2", Account: LabAccount, Components: []string{ComponentIRSAWebhook, ComponentLabCA},
				Kubeconfig: filepath.Join(dir, "kc.yaml"), Context: "kind-idlab-existing", KindCluster: "idlab-existing"}},
		{name: "absolute kubeconfig, lab-ca off", body: "  - {name: prod, flavour: eks, region: eu-central-1, account: \"111122223333\", kubeconfig: /etc/kc.yaml, components: {lab-ca: off}}\n",
			want: ClusterConfig{Name: "prod", Flavour: labfile.EKS, Region: "eu-central-1", Account: "111122223333", Components: []string{ComponentIRSAWebhook},
				Kubeconfig: "/etc/kc.yaml"}},
		{name: "a node agent turned on", body: "  - name: existing\n    flavour: eks\n    region: us-west-2\n    kubeconfig: kc.yaml\n    components:\n      kube2iam: on\n",
			errMatch: "idlab.yaml:9: cluster \"existing\": component kube2iam needs the lab's own nodes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadLabFile(write(tc.body))
			if tc.errMatch != "" {
				require.ErrorContains(t, err, tc.errMatch)
				return
			}
			require.NoError(t, err)
			require.Equal(t, []ClusterConfig{tc.want}, got)
		})
	}
}

func TestCheckExisting(t *testing.T) {
	existing := ClusterConfig{Name: "existing", Kubeconfig: "/kc"}
	tests := []struct {
		name     string
		clusters []ClusterConfig
		errMatch string
	}{
		{name: "lab clusters", clusters: []ClusterConfig{DefaultCluster("eks"), DefaultCluster("gke")}},
		{name: "one existing", clusters: []ClusterConfig{existing}},
		{name: "two existing", clusters: []ClusterConfig{existing, {Name: "b", Kubeconfig: "/kc2"}}, errMatch: "one existing cluster per lab"},
		{name: "mixed", clusters: []ClusterConfig{DefaultCluster("eks"), existing}, errMatch: "cannot be in one lab yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{StateDir: t.TempDir(), Clusters: tc.clusters})
			if tc.errMatch != "" {
				require.ErrorContains(t, err, tc.errMatch)
				return
			}
			require.NoError(t, err)
		})
	}
}

// TestExistingConfig: the emulator's files for an existing eks cluster:
// its issuer trusted from the key set read from it, served at
// kube-apiserver's JWKS path, with an OIDC provider in its account; a
// fixture template naming that issuer filled in; a serve config that
// serve reads.
func TestExistingConfig(t *testing.T) {
	state := t.TempDir()
	fixtures := filepath.Join(t.TempDir(), "aws")
	require.NoError(t, os.MkdirAll(fixtures, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(fixtures, "existing.tmpl.yaml"),
		[]byte(`provider: arn:aws:iam::123456789012:oidc-provider/{{issuerHost "existing"}}`+"\n"), 0o644))
	c := ClusterConfig{Name: "existing", Flavour: labfile.EKS, Region: "us-west-2", Account: LabAccount, Kubeconfig: "/kc"}
	l := &Lab{cfg: Config{StateDir: state, FixturesDir: fixtures, Clusters: []ClusterConfig{c}}.withDefaults()}
	trust := issuertrust.Trust{Issuer: "https://kubernetes.default.svc.cluster.local", JWKS: []byte(`{"keys":[]}`)}
	files, err := l.existingConfig(c, trust)
	require.NoError(t, err)
	require.Equal(t, "provider: arn:aws:iam::123456789012:oidc-provider/kubernetes.default.svc.cluster.local\n", string(files["fixtures/existing.yaml"]))
	require.NotContains(t, files, "fixtures/existing.tmpl.yaml")
	require.Equal(t, `{"keys":[]}`, string(files["keys/existing.jwks"]))
	sc, err := cloud.ParseServeConfig(files[emulatorpod.ServeConfigFile])
	require.NoError(t, err)
	require.Equal(t, "/config/issuers.yaml", sc.Issuers)
	require.Equal(t, "/config/fixtures", sc.Fixtures)
	require.Equal(t, "us-west-2", sc.Region)
	require.True(t, strings.HasPrefix(sc.AdminListen, "127.0.0.1:"))
	// No other cloud has fixtures here: their directories are empty, a
	// ConfigMap volume has no empty directory, and serve refuses one
	// named that is not there, so none is named.
	require.Empty(t, sc.EKSFixtures)
	for p := range files {
		require.False(t, strings.HasPrefix(p, "fixtures-"), "no other cloud's fixture file: %s", p)
	}
	var f cloud.IssuersFile
	p := filepath.Join(l.configDir(), "issuers.yaml")
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, string(raw), string(files["issuers.yaml"]))
	require.NoError(t, yaml.Unmarshal(raw, &f))
	require.Equal(t, []cloud.IssuerConfig{{URL: trust.Issuer, PublicKeyFiles: []string{}, JWKSPath: "/openid/v1/jwks", JWKSFile: "keys/existing.jwks", AWSAccount: LabAccount}}, f.Issuers)
	for p := range files {
		require.False(t, strings.Contains(p, "ca-key") || strings.Contains(p, "secret"), "no key or secret in the ConfigMap's files: %s", p)
	}
}

// TestConfigHash: a change of any file, or of the CA, rolls the pod.
func TestConfigHash(t *testing.T) {
	base := map[string][]byte{"a": []byte("1"), "b": []byte("2")}
	h := configHash(base, []byte("ca"))
	require.Equal(t, h, configHash(map[string][]byte{"b": []byte("2"), "a": []byte("1")}, []byte("ca")))
	for name, other := range map[string]string{
		"file changed": configHash(map[string][]byte{"a": []byte("1"), "b": []byte("3")}, []byte("ca")),
		"file renamed": configHash(map[string][]byte{"a": []byte("1"), "c": []byte("2")}, []byte("ca")),
		"CA changed":   configHash(base, []byte("ca2")),
		"bytes moved":  configHash(map[string][]byte{"a": []byte("12"), "b": []byte("")}, []byte("ca")),
	} {
		require.NotEqual(t, h, other, name)
	}
}
