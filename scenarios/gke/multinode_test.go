//go:build e2e

package gke

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/gkemetadata"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// mnNS is the multi-node rows' namespace: fixtures/gcp binds its app-a to
// team-a-reader and app-b to team-b-reader.
const mnNS = "idlab-multinode"

// TestGKEMultiNode: the default lab's gke cluster has two nodes
// (harness.DefaultNodes), the second pinned, each with its own GKE
// metadata server. A pod of app-b bound to node 2 reads team-b-data with a
// token node 2's metadata server issued; app-a's pod on node 1 reads
// team-a-data through node 1's (the counterpart). Then, while app-b's pod
// runs on node 2, app-a's pod on node 1 points the Google libraries at
// node 2's metadata server (GCE_METADATA_HOST, which the Go metadata
// client honours) and asks for a token to read team-b-data: that server
// serves the pods of its own node only (--node-name, a pod lookup by
// spec.nodeName and the caller's address, as GKE's does), so it answers
// 404 and issues nothing. Suite multinode in the matrix.
func TestGKEMultiNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	gke := lab.Cluster(t, "gke")
	nodes := lab.Clusters["gke"].NodeNames()
	require.GreaterOrEqual(t, len(nodes), 2, "the default lab's gke cluster has %d nodes (harness.DefaultNodes); these rows need two", harness.DefaultNodes)
	lab.Namespace(ctx, t, gke, mnNS)
	for name, gsa := range map[string]string{"app-a": readerA, "app-b": readerB} {
		_, err := gke.CS.CoreV1().ServiceAccounts(mnNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{gsaAnno: gsa}}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	node1IP, node2IP := gke.NodeIP(ctx, t, nodes[0]), gke.NodeIP(ctx, t, nodes[1])

	for _, tc := range []struct {
		name, ksa, gsa, bucket, object, text string
		node                                 int
		scenario                             string
	}{
		{name: "own-identity-on-node-2", ksa: "app-b", gsa: readerB, bucket: "team-b-data", object: "secret.txt", text: "team b only", node: 1,
			scenario: "a pod on node 2 gets its own identity through node 2's metadata server"},
		{name: "own-identity-on-node-1", ksa: "app-a", gsa: readerA, bucket: "team-a-data", object: "hello.txt", text: "hello from team-a-data", node: 0,
			scenario: "a pod on node 1 gets its own identity through node 1's metadata server (test of the test)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			p := podrun.WithArgs(podrun.PlainPod("mn-"+tc.name, tc.ksa, lab.ProbeImage), "gcs-get", tc.bucket, tc.object)
			p.Spec.NodeName = nodes[tc.node]
			res, err := podrun.Run(ctx, gke.CS, mnNS, p)
			require.NoError(t, err)
			var served []string
			for _, n := range nodes {
				if issued(mdsLog(ctx, t, gke, n, start), "serviceAccount:"+mnNS+"/"+tc.ksa, tc.gsa) {
					served = append(served, n)
				}
			}
			labenv.Row(t, labenv.Outcome{Suite: "multinode", Mechanism: "GKE Workload Identity", Scenario: tc.scenario,
				Expected: "allow from " + nodes[tc.node] + "'s metadata server", Observed: mdsServedBy(res.OK, res.ErrorCode, served),
				Reason: fmt.Sprintf("%s/%s on %s read gs://%s/%s (%q); tokens for %s issued on %v", mnNS, tc.ksa, nodes[tc.node], tc.bucket, tc.object, res.Output, tc.gsa, served)})
			require.True(t, res.OK, "%s: %s", res.ErrorCode, res.ErrorMessage)
			require.Equal(t, tc.text, res.Output)
			require.Equal(t, []string{nodes[tc.node]}, served)
		})
	}

	t.Run("other-nodes-metadata-server", func(t *testing.T) {
		// app-b's pod runs on node 2 meanwhile: its identity is there to take.
		holder := podrun.WithArgs(podrun.PlainPod("mn-holder", "app-b", lab.ProbeImage), "hold")
		holder.Spec.NodeName = nodes[1]
		pods := gke.CS.CoreV1().Pods(mnNS)
		_, err := pods.Create(ctx, holder, metav1.CreateOptions{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = pods.Delete(context.Background(), holder.Name, metav1.DeleteOptions{}) })
		require.Eventually(t, func() bool {
			got, err := pods.Get(ctx, holder.Name, metav1.GetOptions{})
			return err == nil && got.Status.Phase == corev1.PodRunning
		}, 2*time.Minute, time.Second, "app-b's pod must run on node 2")

		start := time.Now()
		host := net.JoinHostPort(node2IP, strconv.Itoa(gkemetadata.Port))
		p := podrun.WithArgs(podrun.PlainPod("mn-thief", "app-a", lab.ProbeImage), "gcs-get", "team-b-data", "secret.txt")
		p.Spec.NodeName = nodes[0]
		p = podrun.WithEnv(p, "GCE_METADATA_HOST", host)
		res, err := podrun.Run(ctx, gke.CS, mnNS, p)
		require.NoError(t, err)
		got, err := pods.Get(ctx, p.Name, metav1.GetOptions{})
		require.NoError(t, err)
		lines := mdsLog(ctx, t, gke, nodes[1], start)
		var about []mdsLine
		for _, l := range lines {
			if l.RemoteIP == got.Status.PodIP || l.RemoteIP == node1IP {
				about = append(about, l)
			}
		}
		observed := mdsCrossNodeObserved(res.OK, res.ErrorCode, about, got.Status.PodIP, node1IP)
		labenv.Row(t, labenv.Outcome{Suite: "multinode", Mechanism: "GKE Workload Identity",
			Scenario: "a pod on node 1 asking node 2's metadata server gets nothing of node 2's pod",
			Expected: mdsCrossNodeDenied, Observed: observed,
			Reason: fmt.Sprintf("%s/app-a at %s on %s (node address %s) with GCE_METADATA_HOST=%s: %s %s; %s's lines about it: %+v",
				mnNS, got.Status.PodIP, nodes[0], node1IP, host, res.ErrorCode, res.ErrorMessage, nodes[1], about)})
		require.Equal(t, mdsCrossNodeDenied, observed)
	})
}

// mdsLog is the decision lines the metadata server on node logged since
// start (a second before: the log's times are whole seconds).
func mdsLog(ctx context.Context, t *testing.T, c *labenv.Cluster, node string, start time.Time) []mdsLine {
	t.Helper()
	return mdsLines(c.NodeAgentLog(ctx, t, gkemetadata.Name, "metadata-server", node, start))
}
