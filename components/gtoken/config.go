package gtoken

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/idlab/idlab/internal/admission"
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
	return admission.PodWebhook{Name: Name, WebhookName: WebhookName, Labels: labels(), Service: service, Namespace: namespace,
		Path: MutatePath, CABundle: caBundle, SkipLabel: LabelSkipWebhook,
		Reinvocation: admissionregistrationv1.NeverReinvocationPolicy, Scope: admissionregistrationv1.NamespacedScope}.Config()
}
