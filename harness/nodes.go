package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/harness/cluster"
	"github.com/idlab/idlab/harness/cni"
	"github.com/idlab/idlab/harness/nodeimage"
	"github.com/idlab/idlab/internal/atomicfile"
)

// Multi-node clusters. kind makes node 0 the control plane and the others
// workers; the lab then readies them as a managed cluster's nodes are:
//
//   - every node takes pods: the control plane loses kind's NoSchedule
//     taint, as kind removes it from a one-node cluster;
//   - with PinnedWorkers, the workers carry PinnedTaint, which only the
//     lab's node agents tolerate: the pods of the single-node suites stay
//     on node 0 and a multi-node row binds its pods to a worker by name;
//   - on the static pod networks (bridge, ptp) each node allocates pod
//     addresses from its own pod CIDR (node.spec.podCIDR) with a conflist
//     the lab writes into the node's CNI config dir (a host directory kind
//     mounts, cluster.Spec.CNIConfigDirs), routes every other node's pod
//     CIDR via that node's address, and keeps pod-to-pod traffic
//     unmasqueraded (package cni), as kindnetd does for kindnet, which
//     needs none of this.
//
// On the static networks nodes are not Ready until their conflist is
// written, which comes after their taints, so no pod lands on a node
// before its taints are set.

// PinnedTaintKey is the taint (NoSchedule) on a PinnedWorkers cluster's
// workers. A pod runs there when bound by spec.nodeName, which the
// kubelet admits whatever NoSchedule taints the node has (it checks
// NoExecute taints only: k8s.io/kubernetes v1.34.4, the lab's node
// version, pkg/kubelet/lifecycle/predicate.go generalFilter),
// or when it tolerates the taint.
const PinnedTaintKey = "idlab.dev/pinned"

// controlPlaneTaintKey is kubeadm's taint on control-plane nodes.
const controlPlaneTaintKey = "node-role.kubernetes.io/control-plane"

// PinnedToleration lets a pod (the lab's node agents) run on a pinned
// worker.
func PinnedToleration() corev1.Toleration {
	return corev1.Toleration{Key: PinnedTaintKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
}

// onEveryNode makes a node agent's DaemonSet run on pinned workers too.
func onEveryNode(ds *appsv1.DaemonSet) {
	spec := &ds.Spec.Template.Spec
	if !slices.Contains(spec.Tolerations, PinnedToleration()) {
		spec.Tolerations = append(spec.Tolerations, PinnedToleration())
	}
}

// nodeTaints is the taints node i should carry given the ones it has:
// none of kubeadm's control-plane NoSchedule, and PinnedTaint on a
// worker of a pinned cluster (and nowhere else). changed reports whether
// they differ from have.
func nodeTaints(have []corev1.Taint, i int, pinned bool) (want []corev1.Taint, changed bool) {
	for _, t := range have {
		if (t.Key == controlPlaneTaintKey && t.Effect == corev1.TaintEffectNoSchedule) || t.Key == PinnedTaintKey {
			continue
		}
		want = append(want, t)
	}
	if pinned && i > 0 {
		want = append(want, corev1.Taint{Key: PinnedTaintKey, Value: "true", Effect: corev1.TaintEffectNoSchedule})
	}
	return want, !taintsEqual(have, want)
}

func taintsEqual(a, b []corev1.Taint) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.Taint) bool {
		return x.Key == y.Key && x.Value == y.Value && x.Effect == y.Effect
	})
}

// nodeSetup is what the lab does on one node of a multi-node cluster.
type nodeSetup struct {
	Name     string
	Index    int
	Conflist []byte     // written to the node's CNI config dir; nil: none (kindnet)
	Commands [][]string // run in the node's container: routes
	NATRules [][]string // nat rules inserted first in their chain unless there
}

// planNodes is the setup of each node of cluster c on pod network net
// from the nodes' API objects: every one of c's nodes (named as kind
// names them) must be there with an InternalIP and a pod CIDR.
func planNodes(c ClusterConfig, net cni.Name, objs []corev1.Node) ([]nodeSetup, error) {
	byName := map[string]corev1.Node{}
	for _, o := range objs {
		byName[o.Name] = o
	}
	var nodes []cni.Node
	for i := range c.NodeCount() {
		name := cluster.NodeName(c.Name, i)
		o, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("cluster %s: node %s has not registered", c.Name, name)
		}
		n, err := cni.ParseNode(name, internalIP(o), o.Spec.PodCIDR)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
		nodes = append(nodes, n)
	}
	var base []byte
	switch net {
	case cni.Bridge:
		base = []byte(nodeimage.CNIConfig())
	case cni.PTP:
		_, base = net.Conflist()
	}
	var out []nodeSetup
	for i, n := range nodes {
		s := nodeSetup{Name: n.Name, Index: i}
		if base == nil {
			out = append(out, s) // kindnet routes and writes its own
			continue
		}
		conf, err := cni.NodeConflist(base, n.PodCIDR)
		if err != nil {
			return nil, err
		}
		s.Conflist = conf
		if net == cni.Bridge {
			s.Commands = append(s.Commands, bridgeAheadCommand)
		}
		routes, err := cni.Routes(n.Name, nodes)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
		for _, r := range routes {
			s.Commands = append(s.Commands, r.Command())
			s.NATRules = append(s.NATRules, cni.KeepPodSourceRule(n.PodCIDR, r.Dst))
		}
		out = append(out, s)
	}
	return out, nil
}

// bridgeAheadCommand makes the bridge cni0 on a node before its first
// pod does. The bridge plugin creates it at a node's first pod, and
// kube2iam's --host-interface cni0 must exist when kube2iam starts (it
// checks, as upstream does): on a pinned worker, where only the node
// agents run until a row binds a pod there, kube2iam would crash-loop.
// The plugin takes a bridge that already exists (containernetworking/
// plugins plugins/main/bridge/bridge.go ensureBridge: LinkAdd's EEXIST is
// ignored and the link is re-read with bridgeByName), so nothing differs
// once pods come.
var bridgeAheadCommand = []string{"sh", "-c", "ip link show cni0 >/dev/null 2>&1 || ip link add cni0 type bridge; ip link set cni0 up"}

// internalIP is the node's InternalIP address ("" when it has none).
func internalIP(n corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

// conflistName is the file the node's conflist is written to: the
// network's own name, so host-local keeps its state where a one-node
// cluster's is (the network's name inside is unchanged).
func conflistName(net cni.Name) string {
	if net == cni.PTP {
		name, _ := net.Conflist()
		return name
	}
	return filepath.Base(nodeimage.CNIConfigPath)
}

// nodeCNIDirs are the host directories mounted as the CNI config dir of
// each node of a multi-node cluster on a static pod network (nil
// otherwise: one node, or kindnet, keep the image's or the shared file).
func (l *Lab) nodeCNIDirs(c ClusterConfig, net cni.Name) []string {
	if c.NodeCount() < 2 || net.DefaultCNI() {
		return nil
	}
	var dirs []string
	for i := range c.NodeCount() {
		dirs = append(dirs, filepath.Join(l.cfg.StateDir, "cni", c.Name, cluster.NodeName(c.Name, i)))
	}
	return dirs
}

// emptyDirs makes each of dirs an empty directory: a new cluster's nodes
// must not find the conflists of a deleted one of the same name, whose
// pod CIDRs may be other nodes' now.
func emptyDirs(dirs []string) error {
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// nodesReadyTimeout bounds the wait for a multi-node cluster's nodes to
// register, and then to be Ready once their conflists are written.
const nodesReadyTimeout = 3 * time.Minute

// wireNodes readies the nodes of multi-node cluster c (see above) and
// waits until every one is Ready. It is idempotent: Up runs it on a
// reused cluster too, whose node containers may have restarted without
// their routes.
func (l *Lab) wireNodes(ctx context.Context, c ClusterConfig, net cni.Name) error {
	cs, err := l.clientset(ctx, c.Name)
	if err != nil {
		return err
	}
	var plan []nodeSetup
	if err := poll(ctx, nodesReadyTimeout, func() (bool, error) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		plan, err = planNodes(c, net, list.Items)
		return err == nil, err
	}); err != nil {
		return fmt.Errorf("nodes of %s: %w", c.Name, err)
	}
	if err := setNodeTaints(ctx, cs, c); err != nil {
		return err
	}
	dirs := l.nodeCNIDirs(c, net)
	for _, s := range plan {
		if s.Conflist != nil && s.Index < len(dirs) {
			if err := writeIfChanged(filepath.Join(dirs[s.Index], conflistName(net)), s.Conflist); err != nil {
				return fmt.Errorf("node %s: %w", s.Name, err)
			}
		}
		for _, cmd := range s.Commands {
			if _, err := docker(ctx, nil, append([]string{"exec", s.Name}, cmd...)...); err != nil {
				return fmt.Errorf("node %s: %w", s.Name, err)
			}
		}
		for _, r := range s.NATRules {
			if err := ensureNodeRuleFirst(ctx, s.Name, r); err != nil {
				return fmt.Errorf("node %s: %w", s.Name, err)
			}
		}
	}
	if err := poll(ctx, nodesReadyTimeout, func() (bool, error) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		notReady := notReadyNodes(list.Items)
		if len(notReady) > 0 {
			return false, fmt.Errorf("not Ready: %v", notReady)
		}
		return true, nil
	}); err != nil {
		return fmt.Errorf("nodes of %s: %w", c.Name, err)
	}
	return nil
}

// setNodeTaints gives each node of c the taints nodeTaints says.
func setNodeTaints(ctx context.Context, cs kubernetes.Interface, c ClusterConfig) error {
	for i := range c.NodeCount() {
		name := cluster.NodeName(c.Name, i)
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		want, changed := nodeTaints(n.Spec.Taints, i, c.PinnedWorkers)
		if !changed {
			continue
		}
		n.Spec.Taints = want
		if _, err := cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("taints of node %s: %w", name, err)
		}
	}
	return nil
}

// notReadyNodes names the nodes whose Ready condition is not True.
func notReadyNodes(nodes []corev1.Node) []string {
	var out []string
	for _, n := range nodes {
		ready := false
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				ready = c.Status == corev1.ConditionTrue
			}
		}
		if !ready {
			out = append(out, n.Name)
		}
	}
	return out
}

// writeIfChanged writes data to path atomically unless it holds data
// already: containerd reloads a CNI config dir on every change.
func writeIfChanged(path string, data []byte) error {
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, data) {
		return nil
	}
	return atomicfile.Write(path, data, 0o644)
}

// ensureNodeRuleFirst inserts rule (chain first) at the head of its chain
// in the node's nat table unless it is there.
func ensureNodeRuleFirst(ctx context.Context, node string, rule []string) error {
	check, insert := natFirstArgs(node, rule)
	if _, err := docker(ctx, nil, check...); err == nil {
		return nil
	}
	_, err := docker(ctx, nil, insert...)
	return err
}

// natFirstArgs are the docker arguments that check for rule (chain first)
// in node's nat table and insert it at the head of its chain.
func natFirstArgs(node string, rule []string) (check, insert []string) {
	base := []string{"exec", node, "iptables", "-w", "-t", "nat"}
	check = append(append(slices.Clip(base), "-C"), rule...)
	insert = append(append(slices.Clip(base), "-I", rule[0], "1"), rule[1:]...)
	return check, insert
}

// poll calls f every two seconds until it reports done, ctx ends or
// timeout passes (then the last error f returned says why).
func poll(ctx context.Context, timeout time.Duration, f func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := f()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("not done")
			}
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
