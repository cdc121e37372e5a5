package azurewebhook

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Names of the upstream deployment (Helm chart workload-identity-webhook).
const (
	ConfigName  = "azure-wi-webhook-mutating-webhook-configuration"
	WebhookName = "mutation.azure-workload-identity.io"
	WebhookPath = "/mutate-v1-pod"
)

// Config returns the MutatingWebhookConfiguration upstream installs: pods
// labelled azure.workload.identity/use=true on CREATE, failurePolicy Fail,
// sideEffects None, matchPolicy Equivalent, reinvocationPolicy IfNeeded,
// served by service/namespace on WebhookPath and trusted through caBundle.
func Config(caBundle []byte, service, namespace string) *admissionregistrationv1.MutatingWebhookConfiguration {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	equivalent := admissionregistrationv1.Equivalent
	ifNeeded := admissionregistrationv1.IfNeededReinvocationPolicy
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: ConfigName, Labels: map[string]string{"azure-workload-identity.io/system": "true"}},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: WebhookName,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service:  &admissionregistrationv1.ServiceReference{Name: service, Namespace: namespace, Path: ptr.To(WebhookPath), Port: ptr.To[int32](443)},
				CABundle: caBundle,
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
			FailurePolicy:           &fail,
			MatchPolicy:             &equivalent,
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{UseLabel: "true"}},
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"}, // upstream also lists v1beta1; only v1 is served here
			ReinvocationPolicy:      &ifNeeded,
			TimeoutSeconds:          ptr.To[int32](10),
		}},
	}
}
