package irsawebhook

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/idlab/idlab/internal/admission"
)

// Names of the webhook's Kubernetes objects: the MutatingWebhookConfiguration
// EKS installs is "pod-identity-webhook" with one webhook
// "iam-for-pods.amazonaws.com".
const (
	Name        = "pod-identity-webhook"
	WebhookName = "iam-for-pods.amazonaws.com"
	// MutatePath is where the API server posts AdmissionReviews.
	MutatePath = "/mutate"
)

// Config returns the MutatingWebhookConfiguration that sends pod creations to
// the webhook behind service/namespace, trusting caBundle. Its policies are
// the ones EKS's managed webhook carries: failurePolicy Ignore (a webhook
// outage never blocks pods), sideEffects None, matchPolicy Equivalent,
// reinvocationPolicy IfNeeded (the patch is idempotent), a 10 s timeout, and
// an objectSelector that lets a pod opt out with the label
// eks.amazonaws.com/skip-pod-identity-webhook. Only admission.k8s.io/v1
// reviews are accepted.
func Config(caBundle []byte, service, namespace string) *admissionregistrationv1.MutatingWebhookConfiguration {
	return admission.PodWebhook{Name: Name, WebhookName: WebhookName, Labels: labels(), Service: service, Namespace: namespace,
		Path: MutatePath, CABundle: caBundle, SkipLabel: LabelSkipWebhook,
		Reinvocation: admissionregistrationv1.IfNeededReinvocationPolicy, Scope: admissionregistrationv1.AllScopes}.Config()
}

// labels marks every object the lab creates for the webhook.
func labels() map[string]string {
	return map[string]string{"app": Name, "app.kubernetes.io/managed-by": "idlab"}
}
