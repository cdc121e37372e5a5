package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/harness/labfile"
)

// TestDefaultLabFileIsTheDefaultLab: the default lab written as a lab file
// (testdata/default.idlab.yaml, shown in docs/lab.md) is exactly the lab
// `idlab up` makes without one.
func TestDefaultLabFileIsTheDefaultLab(t *testing.T) {
	got, err := LoadLabFile("testdata/default.idlab.yaml")
	require.NoError(t, err)
	def, err := ConfigFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	require.Equal(t, def.Clusters, got)
}

// TestExampleLabFile: examples/idlab.yaml's cluster stands for a real EKS
// cluster: its own issuer, region, account and node role; kube2iam off.
func TestExampleLabFile(t *testing.T) {
	got, err := LoadLabFile("../examples/idlab.yaml")
	require.NoError(t, err)
	require.Equal(t, []ClusterConfig{{Name: "prod-eu", Flavour: "eks", IssuerURL: "https://oidc.eks.eu-central-1.amazonaws.com/id/ABC123",
		Region: "eu-central-1", Account: "111122223333", NodeRoleARN: "arn:aws:iam::111122223333:role/eks-node",
		Components: []string{ComponentIRSAWebhook, ComponentPodIdentity, ComponentLabCA}}}, got)
}

func TestClustersFromLabFile(t *testing.T) {
	parse := func(t *testing.T, doc string) ([]ClusterConfig, error) {
		t.Helper()
		f, err := labfile.Parse("lab.yaml", []byte("apiVersion: idlab.dev/v1alpha1\nkind: Lab\nclusters:\n"+doc))
		require.NoError(t, err)
		return ClustersFromLabFile(f)
	}
	tests := []struct {
		name, doc string
		want      ClusterConfig
		wantErr   string
	}{
		{name: "eks defaults", doc: "  - {name: prod, flavour: eks, region: eu-west-1}\n",
			want: ClusterConfig{Name: "prod", Flavour: "eks", Region: "eu-west-1", Account: LabAccount, NodeRoleARN: NodeRole,
				IssuerURL:  "https://oidc.eks.eu-west-1.amazonaws.com/id/" + IssuerID("prod"),
				Components: []string{ComponentIRSAWebhook, ComponentPodIdentity, ComponentKube2iam, ComponentLabCA}}},
		{name: "eks named node role", doc: "  - {name: prod, flavour: eks, region: r1, account: \"111122223333\", nodeRole: \"arn:aws:iam::111122223333:role/ng\"}\n",
			want: ClusterConfig{Name: "prod", Flavour: "eks", Region: "r1", Account: "111122223333", NodeRoleARN: "arn:aws:iam::111122223333:role/ng",
				IssuerURL:  "https://oidc.eks.r1.amazonaws.com/id/" + IssuerID("prod"),
				Components: []string{ComponentIRSAWebhook, ComponentPodIdentity, ComponentKube2iam, ComponentLabCA}}},
		{name: "gke project in the issuer", doc: "  - {name: g1, flavour: gke, region: europe-west1, project: shop-prod}\n",
			want: ClusterConfig{Name: "g1", Flavour: "gke", Region: "europe-west1", Project: "shop-prod",
				IssuerURL:  "https://container.googleapis.com/v1/projects/shop-prod/locations/europe-west1/clusters/g1",
				Components: []string{ComponentGKEMetadata, ComponentGToken, ComponentLabCA}}},
		{name: "aks tenant in the issuer", doc: "  - {name: a1, flavour: aks, region: northeurope, tenant: 11111111-2222-3333-4444-555555555555, components: {lab-ca: off}}\n",
			want: ClusterConfig{Name: "a1", Flavour: "aks", Region: "northeurope", Tenant: "11111111-2222-3333-4444-555555555555",
				IssuerURL:  "https://northeurope.oic.prod-aks.azure.com/11111111-2222-3333-4444-555555555555/" + IssuerID("a1") + "/",
				Components: []string{ComponentAzureWebhook, ComponentAADPodIdentity}}},
		{name: "all off", doc: "  - name: e\n    flavour: eks\n    region: r\n    components: {irsa-webhook: off, eks-pod-identity: off, kube2iam: off, lab-ca: off}\n",
			want: ClusterConfig{Name: "e", Flavour: "eks", Region: "r", Account: LabAccount, NodeRoleARN: NodeRole,
				IssuerURL: "https://oidc.eks.r.amazonaws.com/id/" + IssuerID("e"), Components: []string{}}},
		{name: "unknown component", doc: "  - name: e\n    flavour: eks\n    region: r\n    components:\n      kiam: on\n",
			wantErr: `lab.yaml:8: cluster "e": component "kiam": want one of irsa-webhook, eks-pod-identity, gke-metadata, azure-wi-webhook, aad-pod-identity, kube2iam, gtoken, lab-ca`},
		{name: "another flavour's component", doc: "  - name: e\n    flavour: eks\n    region: r\n    components:\n      gtoken: on\n",
			wantErr: `lab.yaml:8: cluster "e": component gtoken runs in gke clusters, not eks`},
		{name: "another flavour's component off is fine", doc: "  - {name: e, flavour: eks, region: r, components: {gtoken: off, kube2iam: off}}\n",
			want: ClusterConfig{Name: "e", Flavour: "eks", Region: "r", Account: LabAccount, NodeRoleARN: NodeRole,
				IssuerURL: "https://oidc.eks.r.amazonaws.com/id/" + IssuerID("e"), Components: []string{ComponentIRSAWebhook, ComponentPodIdentity, ComponentLabCA}}},
		{name: "pod identity without the IRSA webhook", doc: "  - name: e\n    flavour: eks\n    region: r\n    components:\n      irsa-webhook: off\n",
			wantErr: `lab.yaml:8: cluster "e": component eks-pod-identity needs irsa-webhook`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(t, tc.doc)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, []ClusterConfig{tc.want}, got)
		})
	}
}

// TestLabFileIssuersReachTheEmulator: cluster DNS sends every issuer host
// to the emulator, the cloud zones' and any other a lab file names, each
// once.
func TestLabFileIssuersReachTheEmulator(t *testing.T) {
	cfg := Config{Clusters: []ClusterConfig{
		{Name: "a", IssuerURL: "https://oidc.eks.eu-central-1.amazonaws.com/id/ABC123"},
		{Name: "b", IssuerURL: "https://issuer.Example.com/clusters/b"},
		{Name: "c", IssuerURL: "https://issuer.example.com/clusters/c"},
		{Name: "d", IssuerURL: "https://token.actions.githubusercontent.com"},
	}}
	zones := []string{"amazonaws.com", "googleapis.com"}
	require.Equal(t, []string{"amazonaws.com", "googleapis.com", "issuer.example.com", "token.actions.githubusercontent.com"}, cfg.issuerZones(zones))
	require.Equal(t, []string{"amazonaws.com", "googleapis.com"}, zones, "the service zones are not changed")
	got, err := corefileWithEmulator(".:53 {\n    forward . /etc/resolv.conf\n}\n", "172.18.0.9", cfg.issuerZones(zones))
	require.NoError(t, err)
	require.Contains(t, got, "template IN A amazonaws.com googleapis.com issuer.example.com token.actions.githubusercontent.com {")
}

// TestUpWritesWhatALabFileSays: the emulator's region is the first eks
// cluster's, and every eks issuer asks for its IAM OIDC provider in the
// cluster's account (the others ask for none).
func TestUpWritesWhatALabFileSays(t *testing.T) {
	clusters, err := LoadLabFile("../examples/idlab.yaml")
	require.NoError(t, err)
	clusters = append(clusters, DefaultCluster("gke"))
	l, err := New(Config{StateDir: t.TempDir(), Clusters: clusters, LabFile: "../examples/idlab.yaml"})
	require.NoError(t, err)
	require.Equal(t, "eu-central-1", l.serveConfig().Region)
	require.Equal(t, LabRegion, (&Lab{cfg: Config{Clusters: []ClusterConfig{DefaultCluster("gke")}}}).serveConfig().Region)
	require.Equal(t, LabRegion, (&Lab{cfg: Config{Clusters: []ClusterConfig{DefaultCluster("eks")}}}).serveConfig().Region)

	require.NoError(t, os.MkdirAll(l.serveDir(), 0o755))
	require.NoError(t, l.writeKeysAndIssuers())
	raw, err := os.ReadFile(filepath.Join(l.serveDir(), "issuers.yaml"))
	require.NoError(t, err)
	var f cloud.IssuersFile
	require.NoError(t, yaml.Unmarshal(raw, &f))
	require.Equal(t, []cloud.IssuerConfig{
		{URL: "https://oidc.eks.eu-central-1.amazonaws.com/id/ABC123", PublicKeyFiles: []string{"keys/prod-eu/sa.pub"}, AWSAccount: "111122223333"},
		{URL: DefaultCluster("gke").IssuerURL, PublicKeyFiles: []string{"keys/gke/sa.pub"}},
	}, f.Issuers)
}

// TestRememberedLabFile: Up keeps a copy of the lab file in the state dir,
// which the lab commands read back with where it came from; the default
// lab forgets it.
func TestRememberedLabFile(t *testing.T) {
	state := t.TempDir()
	_, _, ok, err := RememberedLab(state)
	require.NoError(t, err)
	require.False(t, ok, "nothing remembered yet")

	src, err := filepath.Abs("../examples/idlab.yaml")
	require.NoError(t, err)
	clusters, err := LoadLabFile(src)
	require.NoError(t, err)
	l, err := New(Config{StateDir: state, Clusters: clusters, LabFile: src})
	require.NoError(t, err)
	require.NoError(t, l.rememberLabFile())
	got, from, ok, err := RememberedLab(state)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, src, from)
	require.Equal(t, clusters, got)
	require.Equal(t, "from "+src, l.describeSource())

	// Up again from the remembered copy keeps it and its origin.
	again, err := New(Config{StateDir: state, Clusters: clusters, LabFile: filepath.Join(state, RememberedLabFile)})
	require.NoError(t, err)
	require.NoError(t, again.rememberLabFile())
	_, from, ok, err = RememberedLab(state)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, src, from)
	require.Equal(t, "from "+src+" (remembered in "+filepath.Join(state, RememberedLabFile)+")", again.describeSource())

	def, err := New(Config{StateDir: state, Clusters: []ClusterConfig{DefaultCluster("eks")}})
	require.NoError(t, err)
	require.NoError(t, def.rememberLabFile())
	_, _, ok, err = RememberedLab(state)
	require.NoError(t, err)
	require.False(t, ok, "a default up forgets the lab file")

	require.NoError(t, os.WriteFile(filepath.Join(state, RememberedLabFile), []byte("kind: Lab\n"), 0o644))
	_, _, _, err = RememberedLab(state)
	require.ErrorContains(t, err, "the lab file remembered in "+state)
}

func TestClusterNames(t *testing.T) {
	l, err := New(Config{StateDir: t.TempDir(), Clusters: []ClusterConfig{DefaultCluster("eks"), DefaultCluster("gke")}})
	require.NoError(t, err)
	all, err := l.clusterNames(nil)
	require.NoError(t, err)
	require.Equal(t, []string{"eks", "gke"}, all)
	one, err := l.clusterNames([]string{"gke"})
	require.NoError(t, err)
	require.Equal(t, []string{"gke"}, one)
	_, err = l.clusterNames([]string{"aks"})
	var nce *NoClusterError
	require.ErrorAs(t, err, &nce)
	require.Equal(t, `the lab has no cluster "aks" (it has eks, gke)`, err.Error())
}

// TestNewFillsAHandMadeCluster: a ClusterConfig with a name and an issuer
// only gets its flavour and the lab's account, project or tenant.
func TestNewFillsAHandMadeCluster(t *testing.T) {
	in := []ClusterConfig{{Name: "eks-x", IssuerURL: "https://i.example.com/a"}, {Name: "gke-x", IssuerURL: "https://i.example.com/b"},
		{Name: "aks-x", IssuerURL: "https://i.example.com/c"}}
	l, err := New(Config{StateDir: t.TempDir(), Clusters: in})
	require.NoError(t, err)
	require.Equal(t, ClusterConfig{Name: "eks-x", IssuerURL: "https://i.example.com/a", Flavour: "eks", Account: LabAccount}, l.cfg.Clusters[0])
	require.Equal(t, ClusterConfig{Name: "gke-x", IssuerURL: "https://i.example.com/b", Flavour: "gke", Project: GoogleProject}, l.cfg.Clusters[1])
	require.Equal(t, ClusterConfig{Name: "aks-x", IssuerURL: "https://i.example.com/c", Flavour: "aks", Tenant: AzureTenantID}, l.cfg.Clusters[2])
	require.Empty(t, in[0].Flavour, "the caller's slice is not changed")
}

// fakeLoader records LoadImages calls and fails for one cluster.
type fakeLoader struct {
	calls []string
	fail  string
}

func (f *fakeLoader) LoadImages(_ context.Context, cluster string, images ...string) error {
	f.calls = append(f.calls, cluster+": "+strings.Join(images, " "))
	if cluster == f.fail {
		return errors.New(`nodes of "` + cluster + `": cluster has no nodes`)
	}
	return nil
}

// TestLoadImages: every target cluster is tried, and a failure names its
// cluster without stopping the others.
func TestLoadImages(t *testing.T) {
	var progress strings.Builder
	l, err := New(Config{StateDir: t.TempDir(), Clusters: []ClusterConfig{DefaultCluster("eks"), DefaultCluster("gke")}, Progress: &progress})
	require.NoError(t, err)
	f := &fakeLoader{fail: "eks"}
	err = l.loadImages(t.Context(), f, []string{"app:1", "tool:2"}, []string{"eks", "gke"})
	require.ErrorContains(t, err, `cluster eks: nodes of "eks": cluster has no nodes`)
	require.Equal(t, []string{"eks: app:1 tool:2", "gke: app:1 tool:2"}, f.calls)
	require.Contains(t, progress.String(), "idlab: load app:1 tool:2 into gke done")
	require.NoError(t, l.loadImages(t.Context(), &fakeLoader{}, []string{"app:1"}, []string{"gke"}))

	// Mistakes found before Docker is asked anything.
	var nce *NoClusterError
	require.ErrorAs(t, l.LoadImages(t.Context(), []string{"app:1"}, "aks"), &nce)
	require.ErrorContains(t, l.LoadImages(t.Context(), nil), "no images named")
}
