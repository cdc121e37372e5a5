package labenv

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/idlab/idlab/emulators/irsawebhook"
	"github.com/idlab/idlab/harness"
)

func TestAdmissionEvidence(t *testing.T) {
	a := irsawebhook.AdmissionLog{Namespace: "ns", Pod: "p", RequestID: "u-1", Reason: "no role-arn annotation"}
	require.Equal(t, "webhook admission u-1 of ns/p: not mutated: no role-arn annotation", AdmissionEvidence(a, true))
	require.Equal(t, "the webhook logged no admission of this pod", AdmissionEvidence(a, false))
}

// TestIRSAWebhookAdmissionWithoutALine: a webhook pod whose log has no line
// for the pod (the fake client's log is "fake logs"), or no webhook pod at
// all, is no evidence.
func TestIRSAWebhookAdmissionWithoutALine(t *testing.T) {
	webhook := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: harness.SystemNamespace, Labels: map[string]string{"app": irsawebhook.Name}}}
	for name, c := range map[string]*Cluster{
		"no webhook pod": {CS: fake.NewClientset()},
		"no line for it": {CS: fake.NewClientset(webhook)},
	} {
		t.Run(name, func(t *testing.T) {
			_, ok := c.IRSAWebhookAdmission(t.Context(), t, "ns", "p", time.Now())
			require.False(t, ok)
		})
	}
}

func TestObserved(t *testing.T) {
	require.Equal(t, "allow", Observed(true, ""))
	require.Equal(t, "allow", Observed(true, "AccessDenied"), "ok wins")
	require.Equal(t, "AccessDenied", Observed(false, "AccessDenied"))
	require.Equal(t, NoCode, Observed(false, ""), "a failure is never shown as nothing")
}
