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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/eksagent"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// issue139 is aws/eks-pod-identity-agent#139 (open, 2026-03): a workload
// on hostNetwork whose service account has an association, mutated like
// any other, gets "Unauthorized Exception! EKS does not have permissions
// to assume the associated role., fault: client" on EKS, while the same
// workload off the host network works. The thread has no answer from the
// maintainers. Upstream's agent (pkg/handlers/eks_credential_handler.go
// and internal/validation/request.go at d4dc0f3) checks only the Host the
// caller used and the token, and logs the caller's address without
// looking at it; the refusal's text is EKS Auth's, whose checks beyond
// the token and the association AWS does not document (the emulator
// trusts a verified token's pod claims, emulators/eksauth). So the lab
// answers as the agent's code does: the hostNetwork pod gets its role,
// and the row says the issue's refusal is not reproduced.
const issue139 = "aws/eks-pod-identity-agent#139"

// TestEKSPodIdentityHostNetwork runs the probe of idlab-podid/app, whose
// service account has an association, once on the host network (with
// ClusterFirstWithHostNet, so the pod still resolves the cloud hosts
// through cluster DNS as the lab's pods do) and once, the test of the
// test and the issue's working configuration, on the pod network. Each
// row is checked from the pod (mutated by the webhook, its caller ARN),
// EKS Auth's decision and the agent's own log: the hostNetwork pod's
// request reached the agent from the node's side (the agent's address or
// the node's), the other from the pod's IP, and both were allowed.
func TestEKSPodIdentityHostNetwork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	eks := lab.Cluster(t, "eks")
	// The suite's own namespace, made afresh (top-level tests run one
	// after another): its app has the podid-app association.
	lab.Namespace(ctx, t, eks, ns, "app")

	for _, tc := range []struct {
		name, scenario string
		hostNetwork    bool
	}{
		{name: "hostnet", scenario: "hostNetwork pod gets its role (" + issue139 + ")", hostNetwork: true},
		{name: "podnet", scenario: "the same pod on the pod network gets its role (" + issue139 + ", test of the test)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			since, start := lab.LastDecisionID(ctx, t), time.Now()
			pod := podrun.PlainPod(tc.name, "app", lab.ProbeImage)
			if tc.hostNetwork {
				pod.Spec.HostNetwork = true
				pod.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
			}
			res, err := podrun.Run(ctx, eks.CS, ns, pod)
			require.NoError(t, err)
			got, err := eks.CS.CoreV1().Pods(ns).Get(ctx, tc.name, metav1.GetOptions{})
			require.NoError(t, err)
			remotes := agentAllowRemotes(agentLog(ctx, t, eks, start))
			ds := lab.DecisionsSince(ctx, t, since, eksAuth, clusterARN)
			reason := "no EKS Auth decision"
			if len(ds) > 0 {
				reason = "EKS Auth " + ds[len(ds)-1].Effect + ": " + ds[len(ds)-1].Reason
			}
			reason = fmt.Sprintf("pod IP %s, node %s; the agent allowed requests from %v; %s", got.Status.PodIP, got.Status.HostIP, remotes, reason)
			if tc.hostNetwork {
				reason += "; the issue's AccessDeniedException is not reproduced: the agent does not look at the caller"
			}
			labenv.Row(t, labenv.Outcome{Suite: "eks pod identity", Scenario: tc.scenario, Mechanism: mechanism,
				Expected: "allow", Observed: labenv.Observed(res.OK, agentCode(res)), Reason: reason + " [" + issue139 + "]"})

			requireMutation(ctx, t, eks, ns, tc.name, true)
			require.Equal(t, tc.hostNetwork, got.Spec.HostNetwork)
			require.Equal(t, tc.hostNetwork, got.Status.PodIP == got.Status.HostIP, "pod IP %s, host IP %s", got.Status.PodIP, got.Status.HostIP)
			require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
			require.True(t, strings.HasPrefix(res.Arn, "arn:aws:sts::"+account+":assumed-role/podid-app/eks-eks-"+tc.name+"-"), res.Arn)
			require.NotEmpty(t, ds, "EKS Auth decided on the pod's token")
			require.Equal(t, "Allow", ds[len(ds)-1].Effect, ds[len(ds)-1].Explanation())
			require.Contains(t, ds[len(ds)-1].Principal, ":assumed-role/eks-node/", "the agent called with the node's role")
			require.NotEmpty(t, remotes, "the agent logged its allow")
			// The log's window starts a second early (whole-second times)
			// and other pods may call the agent meanwhile, so the rows
			// look for this pod's request among the allows: from the
			// node's side for the hostNetwork pod (the agent's address
			// is local there, and the kernel gives the connection that
			// address as its source, or the node's own), from its own IP
			// for the pod on the pod network.
			var hosts []string
			for _, r := range remotes {
				host, _, err := net.SplitHostPort(r)
				require.NoError(t, err, r)
				hosts = append(hosts, host)
			}
			if tc.hostNetwork {
				require.True(t, slices.ContainsFunc(hosts, func(h string) bool { return h == eksagent.IPv4Address || h == got.Status.HostIP }),
					"a request came from the node's side: %v", hosts)
			} else {
				require.Contains(t, hosts, got.Status.PodIP, "a request came from the pod's IP")
			}
		})
	}
}

// agentLog is the EKS Pod Identity Agent's log on every node since start
// (a second before: the log's times are whole seconds).
func agentLog(ctx context.Context, t *testing.T, c *labenv.Cluster, start time.Time) []byte {
	t.Helper()
	list, err := c.CS.CoreV1().Pods(harness.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + eksagent.Name})
	require.NoError(t, err)
	require.NotEmpty(t, list.Items, "the agent's pods")
	since := metav1.NewTime(start.Add(-time.Second))
	var out []byte
	for _, p := range list.Items {
		raw, err := c.CS.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: eksagent.Name, SinceTime: &since}).DoRaw(ctx)
		require.NoError(t, err, "the log of %s/%s", p.Namespace, p.Name)
		out = append(out, raw...)
	}
	return out
}
