package admission

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodWebhook describes a mutating webhook on pod creation that fails open:
// failurePolicy Ignore (an outage never blocks pods), sideEffects None,
// matchPolicy Equivalent, a 10 s timeout, admission.k8s.io/v1 reviews only,
// and an objectSelector that lets a pod opt out with SkipLabel.
type PodWebhook struct {
	Name        string // the configuration object's name
	WebhookName string // the webhook's own name, e.g. iam-for-pods.amazonaws.com
	Labels      map[string]string
	Service     string // the Service in Namespace that fronts the webhook (port 443)
	Namespace   string
	Path        string
	CABundle    []byte
	SkipLabel   string
	// Reinvocation and Scope differ between the upstream webhooks.
	Reinvocation admissionregistrationv1.ReinvocationPolicyType
	Scope        admissionregistrationv1.ScopeType
}

// Config is the MutatingWebhookConfiguration for w.
func (w PodWebhook) Config() *admissionregistrationv1.MutatingWebhookConfiguration {
	path, port, timeout := w.Path, int32(443), int32(10)
	fail := admissionregistrationv1.Ignore
	side := admissionregistrationv1.SideEffectClassNone
	match := admissionregistrationv1.Equivalent
	reinvoke, scope := w.Reinvocation, w.Scope
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: w.Name, Labels: w.Labels},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: w.WebhookName,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service:  &admissionregistrationv1.ServiceReference{Namespace: w.Namespace, Name: w.Service, Path: &path, Port: &port},
				CABundle: w.CABundle,
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{
					APIGroups:   []string{""},
					APIVersions: []string{"v1"},
					Resources:   []string{"pods"},
					Scope:       &scope,
				},
			}},
			FailurePolicy:     &fail,
			MatchPolicy:       &match,
			NamespaceSelector: &metav1.LabelSelector{},
			ObjectSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key:      w.SkipLabel,
				Operator: metav1.LabelSelectorOpDoesNotExist,
			}}},
			SideEffects:             &side,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			ReinvocationPolicy:      &reinvoke,
		}},
	}
}
