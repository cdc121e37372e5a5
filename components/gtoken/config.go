package gtoken

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/internal/admission"
)

// Names of the webhook's Kubernetes objects. Name is the lab's (it names
// the objects of every earlier lab too); WebhookName, MutatePath and
// LabelIgnoreNamespace are upstream's (deployment/mutatingwebhook.yaml and
// cmd/gtoken-webhook/main.go at 0.4.3).
const (
	Name        = "gtoken-webhook"
	WebhookName = "gtoken.doit-intl.com"
	// MutatePath is where the API server posts AdmissionReviews.
	MutatePath = "/pods"
	// LegacyMutatePath is served too: the path of earlier labs'
	// configurations.
	LegacyMutatePath = "/mutate"
	// LabelIgnoreNamespace on a namespace keeps its pods away from the
	// webhook, as upstream's namespaceSelector.
	LabelIgnoreNamespace = "admission.gtoken/ignore"
	// LabelSkipWebhook on a pod keeps it (and the webhook's own pods) away
	// from the webhook: the lab's, for pods in namespaces it does not own.
	LabelSkipWebhook = "gtoken.idlab.dev/skip"
)

// Config returns the MutatingWebhookConfiguration that sends pod creations to
// the webhook behind service/namespace, trusting caBundle: as upstream's,
// failurePolicy Ignore (a webhook outage never blocks pods), sideEffects
// None, namespaced pods only, pods of namespaces labelled
// LabelIgnoreNamespace left out, and no reinvocation (upstream sets none,
// whose default is Never: a second pass would add a second set of
// containers, volume and variables). Beside upstream's: a 10 s timeout,
// admission.k8s.io/v1 only, and an objectSelector that lets a pod opt out
// with the label LabelSkipWebhook.
func Config(caBundle []byte, service, namespace string) *admissionregistrationv1.MutatingWebhookConfiguration {
	cfg := admission.PodWebhook{Name: Name, WebhookName: WebhookName, Labels: labels(), Service: service, Namespace: namespace,
		Path: MutatePath, CABundle: caBundle, SkipLabel: LabelSkipWebhook,
		Reinvocation: admissionregistrationv1.NeverReinvocationPolicy, Scope: admissionregistrationv1.NamespacedScope}.Config()
	cfg.Webhooks[0].NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: LabelIgnoreNamespace, Operator: metav1.LabelSelectorOpDoesNotExist}}}
	return cfg
}
