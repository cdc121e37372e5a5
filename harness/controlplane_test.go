package harness

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func staticPod(component string, restarts int32, finished time.Time) *corev1.Pod {
	st := corev1.ContainerStatus{Name: component, RestartCount: restarts}
	if restarts > 0 {
		st.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 137, FinishedAt: metav1.NewTime(finished)}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: component + "-eks-control-plane", Namespace: "kube-system",
			Labels: map[string]string{"component": component, "tier": "control-plane"}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{st}},
	}
}

func TestControlPlaneRestarts(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 12, 1, 2, 0, time.UTC)
	// What SystemHealth reads of one cluster: its ControlPlane.
	controlPlaneRestarts := func(cs *fake.Clientset, out Restarts) error {
		return readSystemHealth(ctx, cs, "eks", &SystemHealth{Pods: map[string]SystemPod{}, ControlPlane: out})
	}
	before := Restarts{}
	require.NoError(t, controlPlaneRestarts(fake.NewClientset(staticPod("kube-apiserver", 0, at), staticPod("etcd", 2, at)), before))
	require.Equal(t, ContainerRestarts{Count: 2, Last: "Error, exit 137 at 12:01:02"}, before["eks/etcd"])

	after := Restarts{}
	workload := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system"},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{RestartCount: 9}}}}
	require.NoError(t, controlPlaneRestarts(fake.NewClientset(staticPod("kube-apiserver", 1, at), staticPod("etcd", 2, at), workload), after))
	require.NotContains(t, after, "eks/", "a pod without tier=control-plane is not counted")
	require.Equal(t, []string{"eks/kube-apiserver restarted 1 time (last: Error, exit 137 at 12:01:02)"}, after.Since(before),
		"only what restarted during the run; etcd's two earlier restarts are not")
	require.Empty(t, before.Since(before))
	require.Equal(t, []string{"eks/etcd restarted 2 times (last: Error, exit 137 at 12:01:02)"}, before.Since(Restarts{}))
}
