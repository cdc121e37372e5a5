package azure

import (
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/idlab/idlab/components/azurewebhook"
)

// webhookSelection is the evidence for a row whose pod the Azure Workload
// Identity webhook never sees: its configuration is registered, sends the
// API server's pod creations only when labelled azure.workload.identity/use
// "true", and fails closed, so had the pod been labelled a missing webhook
// would have refused it rather than let it through unmutated. ok is false,
// with what was found, when the configuration says otherwise.
func webhookSelection(cfg *admissionregistrationv1.MutatingWebhookConfiguration) (evidence string, ok bool) {
	if cfg == nil {
		return "no webhook configuration", false
	}
	for _, w := range cfg.Webhooks {
		if w.Name != azurewebhook.WebhookName {
			continue
		}
		sel, policy := "none", "unset"
		if w.ObjectSelector != nil {
			sel = fmt.Sprint(w.ObjectSelector.MatchLabels, w.ObjectSelector.MatchExpressions)
		}
		if w.FailurePolicy != nil {
			policy = string(*w.FailurePolicy)
		}
		ok := w.ObjectSelector != nil && len(w.ObjectSelector.MatchExpressions) == 0 && len(w.ObjectSelector.MatchLabels) == 1 &&
			w.ObjectSelector.MatchLabels[azurewebhook.UseLabel] == "true" && policy == string(admissionregistrationv1.Fail)
		return fmt.Sprintf("webhook %s of %s: objectSelector %s, failurePolicy %s", w.Name, cfg.Name, sel, policy), ok
	}
	return fmt.Sprintf("%s has no webhook %s", cfg.Name, azurewebhook.WebhookName), false
}
