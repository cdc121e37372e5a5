package gtoken

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Names of the webhook's Kubernetes objects, upstream's.
const (
	Name        = "gtoken-webhook"
	WebhookName = "pods.gtoken.doit-intl.com"
	// MutatePath is where the API server posts AdmissionReviews.
	MutatePath = "/mutate"
	// LabelSkipWebhook on a pod keeps it (and the webhook's own pods) away
	// from the webhook.
	LabelSkipWebhook = "gtoken.idlab.dev/skip"
)

// Config returns the MutatingWebhookConfiguration that sends pod creations to
// the webhook behind service/namespace, trusting caBundle: failurePolicy
// Ignore (a webhook outage never blocks pods), sideEffects None, a 10 s
// timeout, admission.k8s.io/v1 only, and an objectSelector that lets a pod
// opt out with the label LabelSkipWebhook. reinvocationPolicy is Never: the
// patch adds containers, and a second pass would find them and do nothing.
func Config(caBundle []byte, service, namespace string) *admissionregistrationv1.MutatingWebhookConfiguration {
	path := MutatePath
	port := int32(443)
	fail := admissionregistrationv1.Ignore
	side := admissionregistrationv1.SideEffectClassNone
	match := admissionregistrationv1.Equivalent
	reinvoke := admissionregistrationv1.NeverReinvocationPolicy
	scope := admissionregistrationv1.NamespacedScope
	timeout := int32(10)
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: Name, Labels: labels()},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: WebhookName,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service:  &admissionregistrationv1.ServiceReference{Namespace: namespace, Name: service, Path: &path, Port: &port},
				CABundle: caBundle,
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
				Key:      LabelSkipWebhook,
				Operator: metav1.LabelSelectorOpDoesNotExist,
			}}},
			SideEffects:             &side,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			ReinvocationPolicy:      &reinvoke,
		}},
	}
}
