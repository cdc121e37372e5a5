//go:build e2e

package kube2iam

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/kube2iam"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// multiNode is the multi-node rows of kube2iam: the default lab's eks
// cluster has two nodes (harness.DefaultNodes), the second pinned and an
// EC2 instance of another node group (role eks-node-2), each with its own
// kube2iam. A pod bound to node 2 gets its role from node 2's kube2iam,
// which assumes it with node 2's role; a pod on node 1 that sends its
// metadata requests to node 2's kube2iam while node 2's pod holding
// kube2iam-app runs gets nothing: that kube2iam serves the pods of its
// node only (--node, upstream's pod informer by spec.nodeName), so the
// caller is unknown to it (404). The test of the test: the same pod through
// its own node's kube2iam gets its own role. First, each node's own role
// through its own metadata (harness nodeimds: a port pair per node).
// The rows are suite multinode: kube2iam's suite runs them, in its order,
// because its other rows restart the proxies.
func (e *env) multiNode(ctx context.Context, t *testing.T) {
	nodes := e.lab.Clusters["eks"].NodeNames()
	require.GreaterOrEqual(t, len(nodes), 2, "the default lab's eks cluster has %d nodes (harness.DefaultNodes); these rows need two", harness.DefaultNodes)
	node1, node2 := nodes[0], nodes[1]
	node2IP := e.eks.NodeIP(ctx, t, node2)
	node1IP := e.eks.NodeIP(ctx, t, node1)
	const mnMechanism = mechanism

	// Each node is an EC2 instance of its own: a hostNetwork pod (the
	// node's own processes, not behind kube2iam) gets its node's instance
	// profile, in a session named after its node's instance. Each row is
	// the other's counterpart: the same pod on the other node sees the
	// other role and instance.
	for i, want := range []string{"eks-node/" + harness.NodeInstanceID("eks", 0), "eks-node-2/" + harness.NodeInstanceID("eks", 1)} {
		i, want := i, "arn:aws:sts::"+account+":assumed-role/"+want
		t.Run(fmt.Sprintf("node-role-of-node-%d", i+1), func(t *testing.T) {
			p := e.imdsPod(fmt.Sprintf("mn-node-%d", i+1), nil)
			p.Spec.NodeName = nodes[i]
			p.Spec.HostNetwork = true
			p.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
			res, ip := e.runPod(ctx, t, ns, p)
			labenv.Row(t, labenv.Outcome{Suite: mnSuite, Mechanism: "EC2 instance metadata (node role)",
				Scenario: fmt.Sprintf("a hostNetwork pod on node %d gets node %d's instance profile", i+1, i+1),
				Expected: "allow: " + want, Observed: labenv.Observed(res.OK, res.ErrorCode) + ": " + res.Arn,
				Reason: fmt.Sprintf("pod at %s on %s; the emulator's STS named the caller %s", ip, nodes[i], res.Arn)})
			require.True(t, res.OK, "%s: %s (%s)", res.ErrorCode, res.ErrorMessage, res.Output)
			require.Equal(t, want, res.Arn)
		})
	}

	t.Run("own-role-on-node-2", func(t *testing.T) {
		since, start := e.lab.LastDecisionID(ctx, t), time.Now()
		p := e.imdsPod("mn-own", map[string]string{roleKey: "kube2iam-app"})
		p.Spec.NodeName = node2
		res, ip := e.runPod(ctx, t, ns, p)
		on := e.decidedOn(ctx, t, ip, start)
		stsRole := e.assumedBy(ctx, t, since, appRole, harness.NodeInstanceID("eks", 1))
		labenv.Row(t, labenv.Outcome{Suite: mnSuite, Mechanism: mnMechanism, Scenario: "a pod on node 2 gets its role through node 2's kube2iam",
			Expected: "allow: kube2iam-app via " + node2 + "'s kube2iam as eks-node-2", Observed: viaNode(res, on, stsRole),
			Reason: fmt.Sprintf("pod %s on %s; kube2iam decided on %v; STS AssumeRole of kube2iam-app by %q", ip, node2, on, stsRole)})
		require.True(t, res.OK, "%s: %s (%s)", res.ErrorCode, res.ErrorMessage, res.Output)
		require.Equal(t, []string{node2}, on)
		require.Equal(t, "eks-node-2", stsRole, "node 2's kube2iam assumed the role with node 2's instance profile")
	})

	// The pod holding kube2iam-app on node 2 while the thief asks.
	holder := e.imdsPod("mn-holder", map[string]string{roleKey: "kube2iam-app"})
	holder.Spec.NodeName = node2
	podrun.WithArgs(holder, "hold")
	holderIP := e.startHolder(ctx, t, ns, holder)

	for _, tc := range []struct {
		name, scenario, endpoint, want string
	}{
		{name: "other-nodes-proxy", scenario: "a pod on node 1 asking node 2's kube2iam gets nothing of node 2's pod",
			endpoint: "http://" + net.JoinHostPort(node2IP, strconv.Itoa(kube2iam.DefaultAppPort)), want: crossNodeDenied},
		{name: "own-nodes-proxy", scenario: "the same pod through its own node's kube2iam gets its own role (test of the test)",
			want: "allow: kube2iam-other via " + node1 + "'s kube2iam"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			p := e.imdsPod("mn-"+tc.name, map[string]string{roleKey: "kube2iam-other"})
			p.Spec.NodeName = node1
			if tc.endpoint != "" {
				c := &p.Spec.Containers[0]
				c.Env = append(c.Env, corev1.EnvVar{Name: "AWS_EC2_METADATA_SERVICE_ENDPOINT", Value: tc.endpoint})
			}
			res, ip := e.runPod(ctx, t, otherNS, p)
			var observed string
			if tc.endpoint != "" {
				ds := e.decisionsOn(ctx, t, node2, start, ip, node1IP)
				observed = crossNodeObserved(res, ds, ip, node1IP)
				// Nothing of the holder's: node 2's kube2iam never served
				// kube2iam-app to anyone but the holder.
				for _, d := range ds {
					require.NotEqual(t, "Allow", d.Decision, "node 2's kube2iam allowed the caller: %+v", d)
				}
			} else {
				// kube2iam-other's session may be cached on node 1 since
				// the isolation rows: no STS call to look for.
				observed = viaNode(res, e.decidedOn(ctx, t, ip, start), "")
			}
			labenv.Row(t, labenv.Outcome{Suite: mnSuite, Mechanism: mnMechanism, Scenario: tc.scenario, Expected: tc.want, Observed: observed,
				Reason: fmt.Sprintf("pod %s on %s (node address %s), endpoint %q; node 2's pod with kube2iam-app at %s; the pod saw %s %q",
					ip, node1, node1IP, tc.endpoint, holderIP, res.ErrorCode, res.Output)})
			require.Equal(t, tc.want, observed)
		})
	}
}

// mnSuite is the matrix suite of the multi-node rows, which live in the
// suites of their mechanisms (kube2iam, gke, podidentity).
const mnSuite = "multinode"

// startHolder creates p in namespace and waits until it runs; it is
// deleted with the namespace. It returns the pod's IP.
func (e *env) startHolder(ctx context.Context, t *testing.T, namespace string, p *corev1.Pod) string {
	t.Helper()
	pods := e.eks.CS.CoreV1().Pods(namespace)
	_, err := pods.Create(ctx, p, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pods.Delete(context.Background(), p.Name, metav1.DeleteOptions{}) })
	var ip string
	require.Eventually(t, func() bool {
		got, err := pods.Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil || got.Status.Phase != corev1.PodRunning {
			return false
		}
		ip = got.Status.PodIP
		return ip != ""
	}, 2*time.Minute, time.Second, "pod %s must run", p.Name)
	return ip
}

// decidedOn names the nodes whose kube2iam logged a decision about ip
// since start.
func (e *env) decidedOn(ctx context.Context, t *testing.T, ip string, since time.Time) []string {
	t.Helper()
	var out []string
	for _, node := range e.lab.Clusters["eks"].NodeNames() {
		if len(e.decisionsOn(ctx, t, node, since, ip)) > 0 {
			out = append(out, node)
		}
	}
	return out
}

// decisionsOn are the decisions the kube2iam pod on node logged since
// start about any of ips.
func (e *env) decisionsOn(ctx context.Context, t *testing.T, node string, since time.Time, ips ...string) []decision {
	t.Helper()
	return slices.DeleteFunc(parseDecisions(e.eks.NodeAgentLog(ctx, t, "kube2iam", "kube2iam", node, since)),
		func(d decision) bool { return !slices.Contains(ips, d.RemoteIP) })
}

// assumedBy is the node role whose session (named after the instance)
// assumed role at STS since since: "eks-node-2" for
// assumed-role/eks-node-2/INSTANCE; "" when none did.
func (e *env) assumedBy(ctx context.Context, t *testing.T, since int64, role, instance string) string {
	t.Helper()
	for _, d := range e.lab.DecisionsSince(ctx, t, since, "sts:AssumeRole", role) {
		if r, session, ok := sessionOf(d.Principal); ok && session == instance && d.Effect == "Allow" {
			return r
		}
	}
	return ""
}
