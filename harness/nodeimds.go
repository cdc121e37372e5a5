package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/idlab/idlab/harness/cloud"
	clusterpkg "github.com/idlab/idlab/harness/cluster"
	"github.com/idlab/idlab/harness/labfile"
)

// EC2 instance metadata of the EKS-style clusters' nodes. Each such node is
// an "instance" whose instance profile is the cluster's NodeRoleARN; the
// emulator serves its metadata on two plain-HTTP ports of the kind network,
// and the node's iptables send 169.254.169.254:80 there, as EC2's network
// answers that address for every process of the instance:
//
//   - the node's own processes and hostNetwork pods (nat OUTPUT) reach
//     IMDSPort: one hop;
//   - pods (nat PREROUTING) reach IMDSPort+1, which counts one hop more,
//     so HttpPutResponseHopLimit applies to them as on EC2. The rule
//     matches the destination only, no interface, so it holds on every
//     pod network (cni0 on the bridge, a veth per pod on ptp and kindnet).
//
// Both rules are appended: they stand for the instance's network, the last
// resort, so a metadata proxy (kube2iam) inserted before them wins.
const (
	// NodeRole is the eks nodes' instance profile role (fixtures/aws/lab.yaml).
	NodeRole = "arn:aws:iam::" + LabAccount + ":role/eks-node"
	// NodeRole2 is the default eks cluster's second node's role, a node
	// group of its own (fixtures/aws/lab.yaml).
	NodeRole2 = "arn:aws:iam::" + LabAccount + ":role/eks-node-2"
	// IMDSBasePort is the first emulator port for node metadata; cluster i
	// of the lab uses IMDSBasePort+2i and +2i+1.
	IMDSBasePort = 18100
	// NodeHopLimit and NodeRequireV2 are the EKS-optimized Amazon Linux 2023
	// AMI's defaults (imds-support v2.0): IMDSv2 only, hop limit 2, so pods
	// reach the node's role unless something blocks them
	// (https://docs.aws.amazon.com/linux/al2023/ug/imdsv2.html).
	NodeHopLimit  = 2
	NodeRequireV2 = true
)

// imdsConfigs are the node metadata services the emulator serves, one per
// node of each cluster with a NodeRoleARN (EC2's: each node an instance
// of its own, with its own ID and its node's role, NodeRole(i)) and of
// each aks cluster (Azure's managed-identity endpoint, no identity
// assigned until AAD Pod Identity's MIC assigns one: Azure VMs always
// have IMDS). Node i of a cluster takes the next pair of ports after the
// nodes of the clusters before it (a cluster without metadata still
// takes its pairs), so a one-node cluster i keeps IMDSBasePort+2i when
// every cluster before it has one node.
func (l *Lab) imdsConfigs() []cloud.IMDSConfig {
	var out []cloud.IMDSConfig
	slot := 0
	for _, c := range l.cfg.Clusters {
		for i := range c.NodeCount() {
			port := IMDSBasePort + 2*slot
			slot++
			switch {
			case c.NodeRole(i) != "":
				out = append(out, cloud.IMDSConfig{Name: IMDSName(c.Name, i), Port: port, BridgePort: port + 1, RoleARN: c.NodeRole(i),
					InstanceID: NodeInstanceID(c.Name, i), Region: c.Region, HopLimit: NodeHopLimit, RequireV2: NodeRequireV2})
			case c.Flavour == labfile.AKS:
				out = append(out, cloud.IMDSConfig{Name: IMDSName(c.Name, i), Cloud: cloud.IMDSCloudAzure, Port: port, BridgePort: port + 1, VM: NodeVM(c.Name, i),
					ResourceGroup: AKSNodeResourceGroup, Identities: []string{KubeletIdentityID}})
			}
		}
	}
	return out
}

// The aks clusters' node resource group and kubelet identity
// (fixtures/azure/lab.yaml): AKS puts the cluster's scale set in a
// resource group MC_RG_CLUSTER_LOCATION and assigns it the kubelet's
// user-assigned identity CLUSTER-agentpool, which AAD Pod Identity's MIC
// uses (useManagedIdentityExtension with its client ID in azure.json) and
// which holds Virtual Machine Contributor and Managed Identity Operator on
// the node resource group, as AAD Pod Identity's role-assignment page
// asks.
const (
	AKSNodeResourceGroup = "MC_idlab_aks_westus2"
	KubeletIdentityName  = "aks-agentpool"
	KubeletClientID      = "3c3c3c3c-3c3c-43c3-83c3-3c3c3c3c3c3c"
	KubeletIdentityID    = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/" + AKSNodeResourceGroup +
		"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + KubeletIdentityName
)

// IMDSName names node i's metadata service in the emulator (its admin
// path): the cluster's name for node 0, as a one-node lab always had,
// and the node's (kind's) name for the others.
func IMDSName(cluster string, i int) string {
	if i == 0 {
		return cluster
	}
	return clusterpkg.NodeName(cluster, i)
}

// AzureVM names the aks cluster's node as a scale-set instance, the way
// AKS names its nodes' VMs.
func AzureVM(cluster string) string {
	return "aks-nodepool1-" + strings.ToLower(IssuerID(cluster + "/node"))[:8] + "-vmss_0"
}

// NodeVM is node i's VM: instance i of the cluster's scale set.
func NodeVM(cluster string, i int) string {
	return strings.TrimSuffix(AzureVM(cluster), "_0") + "_" + strconv.Itoa(i)
}

// InstanceID is a stable i-... ID for the cluster's node.
func InstanceID(cluster string) string {
	return "i-0" + strings.ToLower(IssuerID(cluster + "/node"))[:16]
}

// NodeInstanceID is node i's instance ID: InstanceID(cluster) for node 0
// (a one-node lab's), and one of its own for each other node, stable per
// node name.
func NodeInstanceID(cluster string, i int) string {
	if i == 0 {
		return InstanceID(cluster)
	}
	return InstanceID(clusterpkg.NodeName(cluster, i))
}

// installNodeIMDS points each node of cluster c at its own metadata
// service on the emulator at emulatorIP (nothing to do for a cluster
// without): node i's container, named as kind names it, gets the DNAT to
// node i's ports.
func (l *Lab) installNodeIMDS(ctx context.Context, c ClusterConfig, emulatorIP string) error {
	byName := map[string]cloud.IMDSConfig{}
	for _, x := range l.imdsConfigs() {
		byName[x.Name] = x
	}
	var errs []error
	for i := range c.NodeCount() {
		ic, ok := byName[IMDSName(c.Name, i)]
		if !ok {
			continue
		}
		node := clusterpkg.NodeName(c.Name, i)
		for _, r := range nodeIMDSRulesFor(ic.Cloud, emulatorIP, ic.Port, ic.BridgePort) {
			if err := ensureNodeRule(ctx, node, r); err != nil {
				errs = append(errs, fmt.Errorf("node imds on %s: %w", node, err))
			}
		}
	}
	return errors.Join(errs...)
}

// nodeIMDSRules are the nat rules (chain first) of a node's EC2 instance
// metadata.
func nodeIMDSRules(emulatorIP string, port, bridgePort int) [][]string {
	return nodeIMDSRulesFor(cloud.IMDSCloudAWS, emulatorIP, port, bridgePort)
}

// nodeIMDSRulesFor are the nat rules (chain first) of a node's instance
// metadata of cloud (aws or azure; "" is aws).
func nodeIMDSRulesFor(cloudName, emulatorIP string, port, bridgePort int) [][]string {
	name := "EC2"
	if cloudName == cloud.IMDSCloudAzure {
		name = "Azure"
	}
	rule := func(chain string, p int, what string) []string {
		return []string{chain, "-d", "169.254.169.254/32", "-p", "tcp", "--dport", "80",
			"-m", "comment", "--comment", "idlab: " + name + " instance metadata (" + what + ")",
			"-j", "DNAT", "--to-destination", net.JoinHostPort(emulatorIP, strconv.Itoa(p))}
	}
	return [][]string{rule("OUTPUT", port, "node"), rule("PREROUTING", bridgePort, "pods behind the bridge")}
}

// ensureNodeRule appends rule to the node's nat table unless it is there,
// and first deletes the rules of its chain that carry its comment but
// differ from it: a reused cluster keeps the rules of an earlier up, and
// when the emulator's address or the node's metadata ports moved (a lab
// that grew a node shifts the ports of the clusters after it), the old
// DNAT, earlier in the chain, would win.
func ensureNodeRule(ctx context.Context, node string, rule []string) error {
	base := []string{"exec", node, "iptables", "-w", "-t", "nat"}
	listed, err := docker(ctx, nil, append(base, "-S", rule[0])...)
	if err != nil {
		return err
	}
	for _, stale := range staleRules(listed, rule) {
		if _, err := docker(ctx, nil, append(append(base, "-D"), stale...)...); err != nil {
			return err
		}
	}
	if _, err := docker(ctx, nil, append(append(base, "-C"), rule...)...); err == nil {
		return nil
	}
	_, err = docker(ctx, nil, append(append(base, "-A"), rule...)...)
	return err
}

// staleRules are the rules of iptables -S output (one chain's) that carry
// rule's comment (the value after --comment) but are not rule, as the
// arguments that delete each (chain first).
func staleRules(listed string, rule []string) [][]string {
	comment := ""
	for i := 0; i+1 < len(rule); i++ {
		if rule[i] == "--comment" {
			comment = rule[i+1]
		}
	}
	if comment == "" {
		return nil
	}
	var out [][]string
	for _, line := range strings.Split(listed, "\n") {
		f := splitIPTablesLine(line)
		if len(f) < 2 || f[0] != "-A" || f[1] != rule[0] {
			continue
		}
		args := f[1:]
		if !slices.Contains(args, comment) || slices.Equal(withoutMatch(args, "tcp"), withoutMatch(rule, "tcp")) {
			continue
		}
		out = append(out, args)
	}
	return out
}

// withoutMatch drops "-m NAME" where iptables -S adds it on its own (-p
// tcp --dport lists as -p tcp -m tcp --dport), so a listed rule compares
// equal to the rule as the lab writes it.
func withoutMatch(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-m" && i+1 < len(args) && args[i+1] == name {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// splitIPTablesLine splits a line of iptables -S output into arguments:
// words, with double-quoted strings (comments) as one argument.
func splitIPTablesLine(line string) []string {
	var out []string
	var cur strings.Builder
	quoted, in := false, false
	for _, r := range strings.TrimSpace(line) {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}
