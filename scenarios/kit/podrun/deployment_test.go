package podrun

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func deployment() *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "my-app", Namespace: "payments"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "my-app"}}}}
}

func pod(name string, labels map[string]string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "payments", Labels: labels}, Status: corev1.PodStatus{Phase: phase}}
}

// TestDeploymentPod: the running pod the Deployment's selector picks, not
// a pending one of it nor a running one of another app; none running is
// an error naming what its pods do.
func TestDeploymentPod(t *testing.T) {
	mine := map[string]string{"app": "my-app", "pod-template-hash": "abc"}
	tests := []struct {
		name    string
		pods    []*corev1.Pod
		want    string
		wantErr string
	}{
		{name: "running pod of the deployment", want: "my-app-2",
			pods: []*corev1.Pod{pod("my-app-1", mine, corev1.PodPending), pod("other", map[string]string{"app": "other"}, corev1.PodRunning), pod("my-app-2", mine, corev1.PodRunning)}},
		{name: "only pending", pods: []*corev1.Pod{pod("my-app-1", mine, corev1.PodPending)}, wantErr: "my-app-1 Pending"},
		{name: "another app's pod only", pods: []*corev1.Pod{pod("other", map[string]string{"app": "other"}, corev1.PodRunning)}, wantErr: "no pod yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset(deployment())
			for _, p := range tc.pods {
				_, err := cs.CoreV1().Pods("payments").Create(t.Context(), p, metav1.CreateOptions{})
				require.NoError(t, err)
			}
			got, err := DeploymentPod(t.Context(), cs, "payments", "my-app", 0)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Name)
		})
	}
	_, err := DeploymentPod(t.Context(), fake.NewClientset(), "payments", "my-app", 0)
	require.ErrorContains(t, err, "get deployment payments/my-app")
}

// TestWaitLog: the log is returned once done accepts it; a log that never
// shows it is an error quoting its end, once within has passed.
func TestWaitLog(t *testing.T) {
	cs := fake.NewClientset(pod("my-app-1", nil, corev1.PodRunning)) // the fake's log is "fake logs"
	log, err := WaitLog(t.Context(), cs, "payments", "my-app-1", "app", time.Minute, func(l string) bool { return strings.Contains(l, "fake") })
	require.NoError(t, err)
	require.Equal(t, "fake logs", log)

	calls := 0
	_, err = WaitLog(t.Context(), cs, "payments", "my-app-1", "app", 1500*time.Millisecond, func(string) bool { calls++; return false })
	require.ErrorContains(t, err, "does not show it after 1.5s; it ends:\nfake logs")
	require.GreaterOrEqual(t, calls, 2, "read again until within has passed")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = WaitLog(ctx, cs, "payments", "my-app-1", "app", time.Minute, func(string) bool { return false })
	require.Error(t, err)
}
