package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func systemPod(name string, ready bool, restarts int32) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	st := corev1.ContainerStatus{Name: "c", RestartCount: restarts}
	if restarts > 0 {
		st.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 2,
			FinishedAt: metav1.NewTime(time.Date(2026, 12, 7, 14, 18, 10, 0, time.UTC))}
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: SystemNamespace},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{st},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}}}
}

func warning(name, reason, msg string, at time.Time, typ string) *corev1.Event {
	return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: SystemNamespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "webhook-1"}, Type: typ,
		Reason: reason, Message: msg, Count: 3, LastTimestamp: metav1.NewTime(at)}
}

// TestReadSystemHealth: pods with their restarts, last termination and
// readiness, and only the Warning events, are read per cluster.
func TestReadSystemHealth(t *testing.T) {
	at := time.Date(2026, 12, 7, 14, 18, 9, 0, time.UTC)
	cs := fake.NewClientset(systemPod("webhook-1", false, 1),
		warning("w", "Unhealthy", "Readiness probe failed:\n timeout", at, corev1.EventTypeWarning),
		warning("n", "Pulled", "pulled", at, corev1.EventTypeNormal))
	h := SystemHealth{Pods: map[string]SystemPod{}}
	require.NoError(t, readSystemHealth(t.Context(), cs, "aks", &h))
	require.Equal(t, map[string]SystemPod{"aks/idlab-system/webhook-1": {Restarts: 1, Last: "c: Error, exit 2 at 14:18:10"}}, h.Pods)
	require.Equal(t, []SystemEvent{{Cluster: "aks", Namespace: SystemNamespace, Object: "pod/webhook-1", Reason: "Unhealthy",
		Message: "Readiness probe failed:\n timeout", Count: 3, Last: at}}, h.Events)
}

// TestSystemHealthSince: every kind of change is one line; what did not
// change, and events from before, are not listed.
func TestSystemHealthSince(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	before := SystemHealth{Taken: t0, Pods: map[string]SystemPod{
		"aks/idlab-system/webhook-1": {Ready: true},
		"aks/idlab-system/mic-1":     {Ready: true},
		"gke/idlab-system/mds-a":     {Ready: true},
		"eks/kube-system/etcd":       {Ready: true, Restarts: 1},
	}}
	after := SystemHealth{Pods: map[string]SystemPod{
		"aks/idlab-system/webhook-1": {Ready: false, Restarts: 2, Last: "c: Error, exit 2 at 14:18:10"},
		"aks/idlab-system/mic-1":     {Ready: true},
		"gke/idlab-system/mds-b":     {Ready: true},
		"eks/kube-system/etcd":       {Ready: true, Restarts: 1},
	}, Events: []SystemEvent{
		{Cluster: "aks", Namespace: SystemNamespace, Object: "pod/webhook-1", Reason: "Unhealthy", Message: "Readiness probe failed:\n  timeout", Count: 3, Last: t0.Add(2 * time.Minute)},
		{Cluster: "aks", Namespace: SystemNamespace, Object: "pod/old", Reason: "BackOff", Message: "before the suites", Count: 1, Last: t0.Add(-time.Minute)},
	}}
	require.Equal(t, []string{
		"aks/idlab-system/webhook-1 not ready",
		"aks/idlab-system/webhook-1 restarted 2 more (last c: Error, exit 2 at 14:18:10)",
		"gke/idlab-system/mds-a gone",
		"gke/idlab-system/mds-b new",
		"aks/idlab-system event at 14:02:00: Unhealthy pod/webhook-1 (x3): Readiness probe failed: timeout",
	}, after.Since(before))
	require.Empty(t, before.Since(before))
}

// TestSystemHealthSinceKeepsTheNewestEvents: a storm of events is cut to
// the newest, saying how many were left out.
func TestSystemHealthSinceKeepsTheNewestEvents(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	after := SystemHealth{}
	for i := range 20 {
		after.Events = append(after.Events, SystemEvent{Cluster: "gke", Namespace: SystemNamespace, Object: "pod/p", Reason: "BackOff",
			Message: "m", Count: 1, Last: t0.Add(time.Duration(i+1) * time.Second)})
	}
	lines := after.Since(SystemHealth{Taken: t0})
	require.Len(t, lines, 13)
	require.Equal(t, "8 earlier Warning events left out", lines[0])
	require.Contains(t, lines[12], "at 14:00:20:")
}
