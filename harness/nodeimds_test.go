package harness

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/cloud"
)

// TestNodeIMDSConfigs: the default lab serves EC2 metadata for each eks
// node (an instance each, with its own ID and its node's role) and Azure's
// managed-identity endpoint for aks (Azure VMs always have IMDS), each on
// its own pair of ports, and gke none; the serve config carries them
// through the flag form.
func TestNodeIMDSConfigs(t *testing.T) {
	l := &Lab{cfg: Config{Clusters: []ClusterConfig{DefaultCluster("eks"), DefaultCluster("gke"), DefaultCluster("aks")}}}
	got := l.imdsConfigs()
	require.Len(t, got, 3)
	require.Equal(t, "eks", got[0].Name)
	require.Equal(t, NodeRole, got[0].RoleARN)
	require.Equal(t, InstanceID("eks"), got[0].InstanceID, "node 0 is the instance a one-node lab had")
	require.Equal(t, cloud.IMDSConfig{Name: "eks-worker", Port: IMDSBasePort + 2, BridgePort: IMDSBasePort + 3, RoleARN: NodeRole2,
		InstanceID: NodeInstanceID("eks", 1), Region: LabRegion, HopLimit: NodeHopLimit, RequireV2: NodeRequireV2}, got[1])
	require.NotEqual(t, got[0].InstanceID, got[1].InstanceID)
	// gke's two nodes take slots 2 and 3 without metadata.
	require.Equal(t, cloud.IMDSConfig{Name: "aks", Cloud: cloud.IMDSCloudAzure, Port: IMDSBasePort + 8, BridgePort: IMDSBasePort + 9, VM: AzureVM("aks"),
		ResourceGroup: AKSNodeResourceGroup, Identities: []string{KubeletIdentityID}}, got[2], "the kubelet identity is on the node from the start, as AKS assigns it")
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

// TestNodeIMDSPerNode: every node of a cluster is an instance of its own:
// its own pair of ports after the nodes of the clusters before it, its own
// instance ID or VM, and its own role when the cluster gives each node one
// (else the cluster's); a one-node lab keeps the ports it always had.
func TestNodeIMDSPerNode(t *testing.T) {
	eks := func(name string, nodes int, roles ...string) ClusterConfig {
		return ClusterConfig{Name: name, Flavour: "eks", Region: "r", NodeRoleARN: NodeRole, Nodes: nodes, NodeRoles: roles}
	}
	aks := func(name string, nodes int) ClusterConfig {
		return ClusterConfig{Name: name, Flavour: "aks", Nodes: nodes}
	}
	type want struct {
		name       string
		port       int
		role, inst string
		vm         string
	}
	tests := []struct {
		name     string
		clusters []ClusterConfig
		want     []want
	}{
		{name: "one-node lab keeps its ports", clusters: []ClusterConfig{eks("eks", 0), {Name: "gke", Flavour: "gke"}, aks("aks", 1)},
			want: []want{{name: "eks", port: IMDSBasePort, role: NodeRole, inst: InstanceID("eks")}, {name: "aks", port: IMDSBasePort + 4, vm: AzureVM("aks")}}},
		{name: "three nodes, one role", clusters: []ClusterConfig{eks("e", 3)},
			want: []want{{name: "e", port: IMDSBasePort, role: NodeRole, inst: InstanceID("e")},
				{name: "e-worker", port: IMDSBasePort + 2, role: NodeRole, inst: InstanceID("e-worker")},
				{name: "e-worker2", port: IMDSBasePort + 4, role: NodeRole, inst: InstanceID("e-worker2")}}},
		{name: "a role per node, an empty one is the cluster's", clusters: []ClusterConfig{eks("e", 3, "arn:aws:iam::1:role/a", "", "arn:aws:iam::1:role/c")},
			want: []want{{name: "e", port: IMDSBasePort, role: "arn:aws:iam::1:role/a", inst: InstanceID("e")},
				{name: "e-worker", port: IMDSBasePort + 2, role: NodeRole, inst: InstanceID("e-worker")},
				{name: "e-worker2", port: IMDSBasePort + 4, role: "arn:aws:iam::1:role/c", inst: InstanceID("e-worker2")}}},
		{name: "aks nodes are scale-set instances", clusters: []ClusterConfig{eks("e", 2), aks("a", 2)},
			want: []want{{name: "e", port: IMDSBasePort, role: NodeRole, inst: InstanceID("e")},
				{name: "e-worker", port: IMDSBasePort + 2, role: NodeRole, inst: InstanceID("e-worker")},
				{name: "a", port: IMDSBasePort + 4, vm: NodeVM("a", 0)}, {name: "a-worker", port: IMDSBasePort + 6, vm: NodeVM("a", 1)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []want
			for _, ic := range (&Lab{cfg: Config{Clusters: tc.clusters}}).imdsConfigs() {
				require.Equal(t, ic.Port+1, ic.BridgePort)
				got = append(got, want{name: ic.Name, port: ic.Port, role: ic.RoleARN, inst: ic.InstanceID, vm: ic.VM})
				again, err := cloud.ParseIMDSFlag(ic.String())
				require.NoError(t, err, "a plain name the serve flag takes")
				require.Equal(t, ic, again)
			}
			require.Equal(t, tc.want, got)
		})
	}
	require.Equal(t, AzureVM("a"), NodeVM("a", 0))
	require.True(t, strings.HasSuffix(NodeVM("a", 3), "-vmss_3"))
}

// TestStaleRules: a reused node keeps the DNATs of an earlier up; those
// with the lab's comment that point elsewhere are deleted, this rule and
// other rules are kept (seen: the aks node kept :18104 ahead of :18108
// after the default lab grew a node, and AAD Pod Identity's NMI got
// "connection refused").
func TestStaleRules(t *testing.T) {
	rule := nodeIMDSRulesFor(cloud.IMDSCloudAzure, "172.18.0.5", 18108, 18109)[0]
	listed := `-P OUTPUT ACCEPT
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -m comment --comment "idlab: Azure instance metadata (node)" -j DNAT --to-destination 172.18.0.5:18104
-A OUTPUT -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -m comment --comment "idlab: Azure instance metadata (node)" -j DNAT --to-destination 172.18.0.5:18108
-A OUTPUT -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -m comment --comment "idlab: EC2 instance metadata (node)" -j DNAT --to-destination 172.18.0.5:18100`
	for _, tc := range []struct {
		name   string
		listed string
		want   [][]string
	}{
		{"old port deleted, own and others kept", listed, [][]string{{"OUTPUT", "-d", "169.254.169.254/32", "-p", "tcp", "-m", "tcp", "--dport", "80",
			"-m", "comment", "--comment", "idlab: Azure instance metadata (node)", "-j", "DNAT", "--to-destination", "172.18.0.5:18104"}}},
		{"only its own", "-A OUTPUT -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -m comment --comment \"idlab: Azure instance metadata (node)\" -j DNAT --to-destination 172.18.0.5:18108", nil},
		{"empty chain", "-P OUTPUT ACCEPT", nil},
		{"another chain's", "-A PREROUTING -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -m comment --comment \"idlab: Azure instance metadata (node)\" -j DNAT --to-destination 172.18.0.9:1", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, staleRules(tc.listed, rule))
		})
	}
	require.Equal(t, []string{"-A", "OUTPUT", "--comment", "a b c", "-j", "X"}, splitIPTablesLine(` -A OUTPUT --comment "a b c" -j X`))
}
