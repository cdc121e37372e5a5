package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/harness/cni"
)

func TestIssuerIDIsStableAndMatchesFixtures(t *testing.T) {
	id := IssuerID("eks")
	require.Regexp(t, `^[0-9A-F]{32}$`, id)
	require.Equal(t, id, IssuerID("eks"))
	require.NotEqual(t, id, IssuerID("eks2"))
	raw, err := os.ReadFile("../fixtures/aws/lab.yaml")
	require.NoError(t, err)
	require.True(t, strings.Contains(string(raw), DefaultCluster("eks").IssuerURL), "fixtures/aws/lab.yaml must trust the eks cluster's issuer %s", DefaultCluster("eks").IssuerURL)
	raw, err = os.ReadFile("../fixtures/azure/lab.yaml")
	require.NoError(t, err)
	require.Contains(t, string(raw), DefaultCluster("aks").IssuerURL, "fixtures/azure/lab.yaml must federate the aks cluster's issuer")
	require.Contains(t, string(raw), "- id: "+AzureTenantID)
	require.Contains(t, string(raw), "- name: "+AzureStorageAccount)
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	c, err := ConfigFromEnv(get)
	require.NoError(t, err)
	require.Equal(t, ".idlab", c.StateDir)
	require.Equal(t, 8443, c.HostPort)
	require.Len(t, c.Clusters, 3)
	require.Equal(t, "https://container.googleapis.com/v1/projects/idlab/locations/us-central1/clusters/gke", c.Clusters[1].IssuerURL)
	require.Equal(t, "aks", c.Clusters[2].Name)
	require.Equal(t, []string{ComponentAzureWebhook, ComponentAADPodIdentity, ComponentLabCA}, c.Clusters[2].Components)
	env["IDLAB_PORT"] = "nope"
	_, err = ConfigFromEnv(get)
	require.ErrorContains(t, err, "IDLAB_PORT")
	env["IDLAB_PORT"], env["IDLAB_CLUSTERS"] = "9443", "eks"
	c, err = ConfigFromEnv(get)
	require.NoError(t, err)
	require.Equal(t, 9443, c.HostPort)
	require.Len(t, c.Clusters, 1)
	require.Equal(t, cni.Name(""), c.CNI, "unset: the node image's default")
	env["IDLAB_CNI"] = "ptp"
	c, err = ConfigFromEnv(get)
	require.NoError(t, err)
	require.Equal(t, cni.PTP, c.CNI)
	env["IDLAB_CNI"] = "flannel"
	_, err = ConfigFromEnv(get)
	require.ErrorContains(t, err, `IDLAB_CNI: pod network "flannel"`)
}

func TestCorefileWithEmulator(t *testing.T) {
	orig := ".:53 {\n    errors\n    health\n    forward . /etc/resolv.conf\n}\n"
	zones := Config{Clusters: []ClusterConfig{DefaultCluster("eks")}}.issuerZones(cloud.Zones())
	require.Equal(t, cloud.Zones(), zones, "the default issuers are under the cloud zones")
	got, err := corefileWithEmulator(orig, "172.18.0.9", zones)
	require.NoError(t, err)
	require.Contains(t, got, `answer "{{ .Name }} 60 IN A 172.18.0.9"`)
	require.Contains(t, got, "template IN AAAA amazonaws.com api.aws googleapis.com accounts.google.com")
	require.Contains(t, got, "template IN A metadata.google.internal {\n        answer \"{{ .Name }} 60 IN A 169.254.169.254\"")
	again, err := corefileWithEmulator(got, "172.18.0.10", zones)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(again, corednsBegin), "patching is idempotent")
	require.Contains(t, again, "172.18.0.10")
	require.NotContains(t, again, "172.18.0.9")
	_, err = corefileWithEmulator("example.org {\n}\n", "1.2.3.4", zones)
	require.Error(t, err)
	_, err = corefileWithEmulator(orig, "1.2.3.4", nil)
	require.Error(t, err)
}

// The harness writes what `idlab serve --config` reads: the emulator's
// container gets the lab's region (not serve's default), the fixture
// copies, the admin socket and secret under /data, and one IMDS per node
// of a cluster with a node role.
func TestServeConfigRoundTripsThroughServesLoader(t *testing.T) {
	cfg := Config{Clusters: []ClusterConfig{DefaultCluster("eks"), DefaultCluster("gke")}}.withDefaults()
	l := &Lab{cfg: cfg}
	want := l.serveConfig()
	p := filepath.Join(t.TempDir(), serveConfigFile)
	require.NoError(t, cloud.WriteServeConfig(p, want))
	got, err := cloud.LoadServeConfig(p)
	require.NoError(t, err)
	require.Equal(t, want, got)

	require.Equal(t, LabRegion, got.Region)
	require.NotEqual(t, cloud.DefaultRegion, got.Region, "the lab names its region; serve's default is another")
	require.Equal(t, cloud.ServeConfig{
		DataDir: "/data/serve", Fixtures: "/data/fixtures", GCPFixtures: "/data/fixtures-gcp", EKSFixtures: "/data/fixtures-eks",
		AzureFixtures: "/data/fixtures-azure", Issuers: "/data/issuers.yaml", Listen: "0.0.0.0", HTTPSPort: 443, Region: "us-west-2",
		AdminListen: "unix:/data/admin.sock", AdminSecretFile: "/data/admin.secret", LogDecisions: true,
		IMDS: []cloud.IMDSConfig{{Name: "eks", Port: IMDSBasePort, BridgePort: IMDSBasePort + 1, RoleARN: NodeRole, InstanceID: InstanceID("eks"),
			Region: "us-west-2", HopLimit: NodeHopLimit, RequireV2: NodeRequireV2},
			{Name: "eks-worker", Port: IMDSBasePort + 2, BridgePort: IMDSBasePort + 3, RoleARN: NodeRole2, InstanceID: NodeInstanceID("eks", 1),
				Region: "us-west-2", HopLimit: NodeHopLimit, RequireV2: NodeRequireV2}},
	}, got)
}
