//go:build e2e

package podidentity

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/eksagent"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// TestPodIdentityMultiNode: the default lab's eks cluster has two nodes
// (harness.DefaultNodes), the second pinned and an instance of another
// node group (eks-node-2), each with its own EKS Pod Identity agent. A pod
// of idlab-multinode/agent-app (associated with multinode-agent,
// fixtures/eks) bound to node 2 gets its role from node 2's agent, which
// calls EKS Auth as node 2 (its instance profile, its instance's session);
// the same pod on node 1 from node 1's agent as eks-node (each row the
// other's counterpart). It runs in the podidentity suite, one test after
// another, whose rows read EKS Auth's decisions on the same cluster.
// Suite multinode in the matrix.
func TestPodIdentityMultiNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	eks := lab.Cluster(t, "eks")
	nodes := lab.Clusters["eks"].NodeNames()
	require.GreaterOrEqual(t, len(nodes), 2, "the default lab's eks cluster has %d nodes (harness.DefaultNodes); these rows need two", harness.DefaultNodes)
	const ns = "idlab-multinode"
	lab.Namespace(ctx, t, eks, ns, "agent-app")
	roles := []string{"eks-node", "eks-node-2"}
	for _, i := range []int{1, 0} {
		t.Run(fmt.Sprintf("agent-of-node-%d", i+1), func(t *testing.T) {
			since, start := lab.LastDecisionID(ctx, t), time.Now()
			name := fmt.Sprintf("mn-agent-%d", i+1)
			p := podrun.PlainPod(name, "agent-app", lab.ProbeImage)
			p.Spec.NodeName = nodes[i]
			res, err := podrun.Run(ctx, eks.CS, ns, p)
			require.NoError(t, err)
			got, err := eks.CS.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			require.NoError(t, err)
			var allowedOn []string
			for _, n := range nodes {
				if slices.Contains(hostsOf(t, agentAllowRemotes(agentLogOn(ctx, t, eks, n, start))), got.Status.PodIP) {
					allowedOn = append(allowedOn, n)
				}
			}
			session := ":assumed-role/" + roles[i] + "/" + harness.NodeInstanceID("eks", i)
			ds := lab.DecisionsOf(ctx, t, labenv.DecisionQuery{Since: since, Action: eksAuth, Resource: clusterARN, Principal: session})
			principal := ""
			if len(ds) > 0 && ds[len(ds)-1].Effect == "Allow" {
				principal = ds[len(ds)-1].Principal
			}
			want := "allow via " + nodes[i] + "'s agent as " + roles[i]
			labenv.Row(t, labenv.Outcome{Suite: "multinode", Mechanism: mechanism,
				Scenario: fmt.Sprintf("a pod on node %d gets its role through node %d's agent", i+1, i+1),
				Expected: want, Observed: agentViaNode(res.OK, agentCode(res), allowedOn, principal),
				Reason: fmt.Sprintf("pod %s on %s got %s; agents that allowed it: %v; EKS Auth caller %q", got.Status.PodIP, nodes[i], res.Arn, allowedOn, principal)})
			require.True(t, res.OK, "%s: %s", res.ErrorCode, res.ErrorMessage)
			require.True(t, strings.HasPrefix(res.Arn, "arn:aws:sts::"+account+":assumed-role/multinode-agent/"), res.Arn)
			require.Equal(t, []string{nodes[i]}, allowedOn)
			require.Contains(t, principal, session)
		})
	}
}

// agentLogOn is the log of the agent pod on node since start (a second
// before: the log's times are whole seconds).
func agentLogOn(ctx context.Context, t *testing.T, c *labenv.Cluster, node string, start time.Time) []byte {
	t.Helper()
	return c.NodeAgentLog(ctx, t, eksagent.Name, eksagent.Name, node, start)
}

// hostsOf are the addresses of host:port remotes.
func hostsOf(t *testing.T, remotes []string) []string {
	t.Helper()
	var out []string
	for _, r := range remotes {
		host, _, err := net.SplitHostPort(r)
		require.NoError(t, err, r)
		out = append(out, host)
	}
	return out
}
