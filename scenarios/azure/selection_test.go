package azure

import (
	"testing"

	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/azurewebhook"
)

func TestWebhookSelection(t *testing.T) {
	ignore := admissionregistrationv1.Ignore
	tests := []struct {
		name   string
		edit   func(*admissionregistrationv1.MutatingWebhook)
		nilCfg bool
		want   string
		ok     bool
	}{
		{name: "the lab's configuration", ok: true,
			want: "webhook mutation.azure-workload-identity.io of azure-wi-webhook-mutating-webhook-configuration: objectSelector map[azure.workload.identity/use:true] [], failurePolicy Fail"},
		{name: "no configuration", nilCfg: true, want: "no webhook configuration"},
		{name: "fails open", edit: func(w *admissionregistrationv1.MutatingWebhook) { w.FailurePolicy = &ignore }, want: "failurePolicy Ignore"},
		{name: "no failure policy", edit: func(w *admissionregistrationv1.MutatingWebhook) { w.FailurePolicy = nil }, want: "failurePolicy unset"},
		{name: "every pod", edit: func(w *admissionregistrationv1.MutatingWebhook) { w.ObjectSelector = nil }, want: "objectSelector none"},
		{name: "another label value", edit: func(w *admissionregistrationv1.MutatingWebhook) {
			w.ObjectSelector = &metav1.LabelSelector{MatchLabels: map[string]string{azurewebhook.UseLabel: "false"}}
		}, want: "use:false"},
		{name: "an extra expression", edit: func(w *admissionregistrationv1.MutatingWebhook) {
			w.ObjectSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "x", Operator: metav1.LabelSelectorOpExists}}
		}, want: "objectSelector map[azure.workload.identity/use:true] [{x Exists []}]"},
		{name: "another webhook", edit: func(w *admissionregistrationv1.MutatingWebhook) { w.Name = "other.example.com" },
			want: "azure-wi-webhook-mutating-webhook-configuration has no webhook mutation.azure-workload-identity.io"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := azurewebhook.Config(nil, "svc", "ns")
			if tc.edit != nil {
				tc.edit(&cfg.Webhooks[0])
			}
			if tc.nilCfg {
				cfg = nil
			}
			got, ok := webhookSelection(cfg)
			require.Equal(t, tc.ok, ok, got)
			require.Contains(t, got, tc.want)
		})
	}
}
