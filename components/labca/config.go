package labca

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/internal/admission"
)

// Names of the webhook's Kubernetes objects.
const (
	Name        = "idlab-lab-ca"
	WebhookName = "lab-ca.idlab.dev"
)

// Config returns the MutatingWebhookConfiguration that sends pod creations
// in namespaces labelled NamespaceLabel=NamespaceEnabled to the webhook
// behind service/namespace, trusting caBundle: failurePolicy Ignore,
// sideEffects None, a 10 s timeout, admission.k8s.io/v1 only, pods with
// SkipLabel left out. reinvocationPolicy is IfNeeded: a container another
// webhook adds after this one ran (gtoken's) is given the CA on the second
// pass.
func Config(caBundle []byte, service, namespace string) *admissionregistrationv1.MutatingWebhookConfiguration {
	c := admission.PodWebhook{Name: Name, WebhookName: WebhookName, Labels: labels(), Service: service, Namespace: namespace,
		Path: MutatePath, CABundle: caBundle, SkipLabel: SkipLabel,
		Reinvocation: admissionregistrationv1.IfNeededReinvocationPolicy, Scope: admissionregistrationv1.NamespacedScope}.Config()
	c.Webhooks[0].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{NamespaceLabel: NamespaceEnabled}}
	return c
}
