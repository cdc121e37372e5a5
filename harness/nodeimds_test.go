package harness

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/cloud"
)

// TestNodeIMDSConfigs: the default lab serves EC2 metadata for eks and
// Azure's managed-identity endpoint for aks (Azure VMs always have IMDS),
// each on its own pair of ports, and gke none; the serve config carries
// them through the flag form.
func TestNodeIMDSConfigs(t *testing.T) {
	l := &Lab{cfg: Config{Clusters: []ClusterConfig{DefaultCluster("eks"), DefaultCluster("gke"), DefaultCluster("aks")}}}
	got := l.imdsConfigs()
	require.Len(t, got, 2)
	require.Equal(t, "eks", got[0].Name)
	require.Equal(t, NodeRole, got[0].RoleARN)
	require.Equal(t, cloud.IMDSConfig{Name: "aks", Cloud: cloud.IMDSCloudAzure, Port: IMDSBasePort + 4, BridgePort: IMDSBasePort + 5, VM: AzureVM("aks"),
		ResourceGroup: AKSNodeResourceGroup, Identities: []string{KubeletIdentityID}}, got[1], "the kubelet identity is on the node from the start, as AKS assigns it")
	require.True(t, strings.HasPrefix(AzureVM("aks"), "aks-nodepool1-"))
	for _, ic := range l.serveConfig().IMDS {
		again, err := cloud.ParseIMDSFlag(ic.String())
		require.NoError(t, err)
		require.Equal(t, ic, again)
	}
	rules := nodeIMDSRulesFor(cloud.IMDSCloudAzure, "172.18.0.2", IMDSBasePort+4, IMDSBasePort+5)
	require.Equal(t, []string{"OUTPUT", "-d", "169.254.169.254/32", "-p", "tcp", "--dport", "80", "-m", "comment", "--comment",
		"idlab: Azure instance metadata (node)", "-j", "DNAT", "--to-destination", "172.18.0.2:18104"}, rules[0])
	require.Equal(t, "PREROUTING", rules[1][0])
	require.Equal(t, "172.18.0.2:18105", rules[1][len(rules[1])-1])
}
