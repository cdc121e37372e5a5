package harness

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/idlab/idlab/harness/cni"
	"github.com/idlab/idlab/harness/nodeimage"
)

var (
	cpTaint     = corev1.Taint{Key: controlPlaneTaintKey, Effect: corev1.TaintEffectNoSchedule}
	pinnedTaint = corev1.Taint{Key: PinnedTaintKey, Value: "true", Effect: corev1.TaintEffectNoSchedule}
	otherTaint  = corev1.Taint{Key: "example.com/gpu", Value: "yes", Effect: corev1.TaintEffectNoSchedule}
	notReady    = corev1.Taint{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoExecute}
)

// TestNodeTaints: every node loses kubeadm's control-plane NoSchedule
// (as kind takes it off a one-node cluster), a pinned cluster's workers
// and only they carry the pinned taint, and other taints stay.
func TestNodeTaints(t *testing.T) {
	tests := []struct {
		name        string
		have        []corev1.Taint
		i           int
		pinned      bool
		want        []corev1.Taint
		wantChanged bool
	}{
		{name: "control plane untainted", have: []corev1.Taint{cpTaint}, wantChanged: true},
		{name: "control plane of a pinned cluster", have: []corev1.Taint{cpTaint, notReady}, pinned: true, want: []corev1.Taint{notReady}, wantChanged: true},
		{name: "control plane already right", have: nil},
		{name: "worker pinned", i: 1, pinned: true, have: []corev1.Taint{otherTaint}, want: []corev1.Taint{otherTaint, pinnedTaint}, wantChanged: true},
		{name: "worker already pinned", i: 2, pinned: true, have: []corev1.Taint{pinnedTaint}, want: []corev1.Taint{pinnedTaint}},
		{name: "worker of an unpinned cluster", i: 1, have: []corev1.Taint{pinnedTaint, otherTaint}, want: []corev1.Taint{otherTaint}, wantChanged: true},
		{name: "control-plane NoExecute is not kubeadm's", have: []corev1.Taint{{Key: controlPlaneTaintKey, Effect: corev1.TaintEffectNoExecute}},
			want: []corev1.Taint{{Key: controlPlaneTaintKey, Effect: corev1.TaintEffectNoExecute}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := nodeTaints(tc.have, tc.i, tc.pinned)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.wantChanged, changed)
		})
	}
}

// TestPinnedToleration: the lab's node agents tolerate the pinned taint,
// once however often the lab deploys them, and ordinary pods do not.
func TestPinnedToleration(t *testing.T) {
	ds := &appsv1.DaemonSet{}
	onEveryNode(ds)
	onEveryNode(ds)
	require.Equal(t, []corev1.Toleration{PinnedToleration()}, ds.Spec.Template.Spec.Tolerations)
	tol := PinnedToleration()
	require.True(t, tol.ToleratesTaint(&pinnedTaint))
	require.False(t, tol.ToleratesTaint(&otherTaint))
}

func kindNode(name, ip, cidr string, taints ...corev1.Taint) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: cidr, Taints: taints}}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	}
	return n
}

func subnetOf(t *testing.T, conflist []byte) string {
	t.Helper()
	var c struct {
		Plugins []struct {
			IPAM struct {
				Ranges [][]struct {
					Subnet string `json:"subnet"`
				} `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	require.NoError(t, json.Unmarshal(conflist, &c))
	return c.Plugins[0].IPAM.Ranges[0][0].Subnet
}

// TestPlanNodes: on the static pod networks each node gets a conflist
// allocating from its own pod CIDR, a route to every other node's pods via
// that node, and the rule that keeps pod-to-pod traffic unmasqueraded;
// kindnet gets none of these; a node that has not registered, or has no
// address or pod CIDR yet, is an error (wireNodes waits it out).
func TestPlanNodes(t *testing.T) {
	c := ClusterConfig{Name: "eks", Nodes: 2}
	cp := kindNode("eks-control-plane", "172.18.0.2", "10.244.0.0/24")
	w := kindNode("eks-worker", "172.18.0.3", "10.244.1.0/24")
	for _, net := range []cni.Name{cni.Bridge, cni.PTP} {
		t.Run(string(net), func(t *testing.T) {
			plan, err := planNodes(c, net, []corev1.Node{w, cp, kindNode("other-node", "172.18.0.9", "10.244.9.0/24")})
			require.NoError(t, err)
			require.Len(t, plan, 2)
			require.Equal(t, "eks-control-plane", plan[0].Name)
			require.Equal(t, 0, plan[0].Index)
			require.Equal(t, "10.244.0.0/24", subnetOf(t, plan[0].Conflist))
			// On bridge, cni0 first, so kube2iam (-i cni0) starts on a node no pod ran on yet.
			var first [][]string
			if net == cni.Bridge {
				first = [][]string{bridgeAheadCommand}
			}
			require.Equal(t, append(first, []string{"ip", "route", "replace", "10.244.1.0/24", "via", "172.18.0.3"}), plan[0].Commands)
			require.Equal(t, [][]string{cni.KeepPodSourceRule(netipPrefix(t, "10.244.0.0/24"), netipPrefix(t, "10.244.1.0/24"))}, plan[0].NATRules)
			require.Equal(t, "eks-worker", plan[1].Name)
			require.Equal(t, 1, plan[1].Index)
			require.Equal(t, "10.244.1.0/24", subnetOf(t, plan[1].Conflist))
			require.Equal(t, append(first, []string{"ip", "route", "replace", "10.244.0.0/24", "via", "172.18.0.2"}), plan[1].Commands)
		})
	}
	plan, err := planNodes(c, cni.Kindnet, []corev1.Node{cp, w})
	require.NoError(t, err)
	require.Equal(t, []nodeSetup{{Name: "eks-control-plane"}, {Name: "eks-worker", Index: 1}}, plan)

	for _, tc := range []struct {
		name    string
		nodes   []corev1.Node
		wantErr string
	}{
		{name: "worker not registered", nodes: []corev1.Node{cp}, wantErr: "node eks-worker has not registered"},
		{name: "no pod CIDR yet", nodes: []corev1.Node{cp, kindNode("eks-worker", "172.18.0.3", "")}, wantErr: "pod CIDR"},
		{name: "no address yet", nodes: []corev1.Node{cp, kindNode("eks-worker", "", "10.244.1.0/24")}, wantErr: "address"},
		{name: "same pod CIDR", nodes: []corev1.Node{cp, kindNode("eks-worker", "172.18.0.3", "10.244.0.0/24")}, wantErr: "nodes overlap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := planNodes(c, cni.PTP, tc.nodes)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// TestClusterSpec: a one-node cluster is made as before (the template's
// nodes, the shared conflist file, kind's wait); a multi-node one on a
// static network gets its nodes and one CNI config dir each, without
// kind's wait; on kindnet, its nodes only.
func TestClusterSpec(t *testing.T) {
	l := &Lab{cfg: Config{StateDir: "/state"}}
	node := nodeimage.Result{Image: "idlab/node:x"}
	one := l.clusterSpec(ClusterConfig{Name: "aks", IssuerURL: "https://i.example.com/a"}, node, cni.PTP, "/state/cni/05-idlab-ptp.conflist")
	require.Zero(t, one.Nodes)
	require.Nil(t, one.CNIConfigDirs)
	require.False(t, one.NoReadyWait)
	require.Equal(t, "/state/cni/05-idlab-ptp.conflist", one.CNIConfigFile)

	two := l.clusterSpec(ClusterConfig{Name: "eks", Nodes: 2, IssuerURL: "https://i.example.com/e"}, node, cni.Bridge, "")
	require.Equal(t, 2, two.Nodes)
	require.Equal(t, []string{"/state/cni/eks/eks-control-plane", "/state/cni/eks/eks-worker"}, two.CNIConfigDirs)
	require.True(t, two.NoReadyWait)

	kn := l.clusterSpec(ClusterConfig{Name: "eks", Nodes: 3, IssuerURL: "https://i.example.com/e"}, node, cni.Kindnet, "")
	require.Equal(t, 3, kn.Nodes)
	require.Nil(t, kn.CNIConfigDirs)
	require.False(t, kn.NoReadyWait, "kindnet readies its own nodes: kind waits")
	require.Equal(t, "05-idlab-ptp.conflist", conflistName(cni.PTP))
	require.Equal(t, filepath.Base(nodeimage.CNIConfigPath), conflistName(cni.Bridge))
}

// TestEmptyDirsAndWriteIfChanged: a recreated cluster's node dirs start
// empty, and a conflist is rewritten only when it changes (containerd
// reloads the directory on every write).
func TestEmptyDirsAndWriteIfChanged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cni", "eks", "eks-worker")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	p := filepath.Join(dir, "10-idlab-bridge.conflist")
	require.NoError(t, os.WriteFile(p, []byte("stale"), 0o644))
	require.NoError(t, emptyDirs([]string{dir}))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)

	require.NoError(t, writeIfChanged(p, []byte("a")))
	old, err := os.Stat(p)
	require.NoError(t, err)
	require.NoError(t, writeIfChanged(p, []byte("a")))
	same, err := os.Stat(p)
	require.NoError(t, err)
	require.True(t, os.SameFile(old, same), "unchanged content is not rewritten")
	require.NoError(t, writeIfChanged(p, []byte("b")))
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "b", string(raw))
}

// TestSetNodeTaints: the API's nodes end as nodeTaints says, and nodes of
// other clusters are left alone.
func TestSetNodeTaints(t *testing.T) {
	ctx := context.Background()
	cp := kindNode("gke-control-plane", "172.18.0.2", "10.244.0.0/24", cpTaint)
	w := kindNode("gke-worker", "172.18.0.3", "10.244.1.0/24")
	other := kindNode("eks-control-plane", "172.18.0.4", "10.244.0.0/24", cpTaint)
	cs := fake.NewClientset(&cp, &w, &other)
	require.NoError(t, setNodeTaints(ctx, cs, ClusterConfig{Name: "gke", Nodes: 2, PinnedWorkers: true}))
	got := func(name string) []corev1.Taint {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		return n.Spec.Taints
	}
	require.Empty(t, got("gke-control-plane"))
	require.Equal(t, []corev1.Taint{pinnedTaint}, got("gke-worker"))
	require.Equal(t, []corev1.Taint{cpTaint}, got("eks-control-plane"))
	require.ErrorContains(t, setNodeTaints(ctx, cs, ClusterConfig{Name: "gke", Nodes: 3}), "gke-worker2")
	require.Equal(t, []string{"a"}, notReadyNodes([]corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}},
	}))
}

func netipPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	require.NoError(t, err)
	return p
}

// TestClusterNodes: the state names every node of a cluster as kind names
// it, and a state written before nodes were recorded reads as one node.
func TestClusterNodes(t *testing.T) {
	require.Equal(t, []string{"eks-control-plane", "eks-worker"}, ClusterNodes(DefaultCluster("eks")))
	require.Equal(t, []string{"aks-control-plane"}, ClusterNodes(DefaultCluster("aks")))
	require.Equal(t, []string{"a-control-plane", "a-worker", "a-worker2"}, ClusterNodes(ClusterConfig{Name: "a", Nodes: 3}))
	require.Equal(t, []string{"x-control-plane"}, ClusterState{Name: "x"}.NodeNames())
	require.Equal(t, []string{"x-control-plane", "x-worker"}, ClusterState{Name: "x", Nodes: []string{"x-control-plane", "x-worker"}}.NodeNames())
}

// TestNATFirstArgs: the no-masquerade rule goes at the head of
// POSTROUTING, before the CNI plugins' per-pod masquerade rules, and is
// checked for first so a second Up adds none.
func TestNATFirstArgs(t *testing.T) {
	rule := cni.KeepPodSourceRule(netipPrefix(t, "10.244.0.0/24"), netipPrefix(t, "10.244.1.0/24"))
	check, insert := natFirstArgs("eks-worker", rule)
	base := []string{"exec", "eks-worker", "iptables", "-w", "-t", "nat"}
	require.Equal(t, append(append(slices.Clone(base), "-C"), rule...), check)
	require.Equal(t, append(append(slices.Clone(base), "-I", "POSTROUTING", "1"), rule[1:]...), insert)
}
