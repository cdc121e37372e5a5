package labenv

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/harness"
)

// NodeAgentLog is the log of container in the lab's node agent pods
// labelled app=app on node (one per node: a DaemonSet's) since start (a
// second before: the API's times are whole seconds). The multi-node rows
// read from it which node's agent decided.
func (c *Cluster) NodeAgentLog(ctx context.Context, t *testing.T, app, container, node string, start time.Time) []byte {
	t.Helper()
	pods, err := c.CS.CoreV1().Pods(harness.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app,
		FieldSelector: "spec.nodeName=" + node})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items, "%s runs on %s", app, node)
	since := metav1.NewTime(start.Add(-time.Second))
	var out []byte
	for _, p := range pods.Items {
		raw, err := c.CS.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: container, SinceTime: &since}).DoRaw(ctx)
		require.NoError(t, err, "the log of %s/%s", p.Namespace, p.Name)
		out = append(out, raw...)
	}
	return out
}

// NodeIP is the node's InternalIP, its address on kind's network: the
// source address a hostNetwork pod's or a cross-node request arrives from.
func (c *Cluster) NodeIP(ctx context.Context, t *testing.T, node string) string {
	t.Helper()
	n, err := c.CS.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	require.NoError(t, err)
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	t.Fatalf("node %s has no InternalIP", node)
	return ""
}
