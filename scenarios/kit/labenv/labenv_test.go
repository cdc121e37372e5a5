package labenv

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/idlab/idlab/components/irsawebhook"
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

func TestDecisionQueryValues(t *testing.T) {
	tests := []struct {
		name string
		q    DecisionQuery
		want url.Values
	}{
		{name: "empty", want: url.Values{}},
		{name: "step on an own resource", q: DecisionQuery{Since: 7, Action: "sts:AssumeRoleWithWebIdentity", Resource: "arn:aws:iam::1:role/r"},
			want: url.Values{"since": {"7"}, "action": {"sts:AssumeRoleWithWebIdentity"}, "resource": {"arn:aws:iam::1:role/r"}}},
		{name: "step on a shared object", q: DecisionQuery{Since: 7, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Principal: ":assumed-role/app-a/", RequestID: "0A1B"},
			want: url.Values{"since": {"7"}, "action": {"s3:GetObject"}, "resource": {"arn:aws:s3:::b/k"}, "principal": {":assumed-role/app-a/"}, "request_id": {"0A1B"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.q.Query())
		})
	}
}

// TestDeleteNamespace: a namespace already terminating (the API server's
// 409) is waited for like one this call deleted; any other error is
// returned.
func TestDeleteNamespace(t *testing.T) {
	nsRes := schema.GroupResource{Resource: "namespaces"}
	for name, tc := range map[string]struct {
		deleteErr error
		wantErr   bool
	}{
		"deleted":             {},
		"not there":           {deleteErr: apierrors.NewNotFound(nsRes, "x")},
		"already terminating": {deleteErr: apierrors.NewConflict(nsRes, "x", errTerminating)},
		"forbidden":           {deleteErr: apierrors.NewForbidden(nsRes, "x", errTerminating), wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x"}})
			if tc.deleteErr != nil {
				cs.PrependReactor("delete", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
					_ = cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("namespaces"), "", "x")
					return true, nil, tc.deleteErr
				})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := DeleteNamespace(ctx, cs, "x")
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
		})
	}
}

var errTerminating = errors.New("The system is ensuring all content is removed from this namespace.")
