package azure

import (
	"bytes"
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/idlab/idlab/components/azurewebhook"
)

// The webhook-down rows (TestAzureWebhookDown) stand in for the Azure
// Workload Identity webhook scaled to zero without touching the lab's own,
// which other suites use at the same time: upstream's configuration,
// registered again for pods of downNS labelled downLabel, pointing at a
// Service whose selector matches no pod (a Deployment at 0 replicas leaves
// its Service so).
const (
	downNS      = "idlab-aks-webhook-down"
	downService = "azure-wi-down"
	// downLabel selects a pod for the stand-in whose failure policy is
	// the label's value (Fail or Ignore). The pods do not carry
	// azure.workload.identity/use, so the lab's running webhook never
	// sees them.
	downLabel = "idlab.dev/azure-wi-down"
	// downSA is the rows' service account, annotated with bugs-fixed's
	// client ID, whose federated credential trusts downNS/app.
	downSA = "app"
)

// downConfigName is the stand-in configuration of failure policy p.
func downConfigName(p admissionregistrationv1.FailurePolicyType) string {
	return "idlab-azure-wi-down-" + strings.ToLower(string(p))
}

// downConfig is upstream's MutatingWebhookConfiguration (azurewebhook.Config:
// its webhook name, path, rules, reinvocation and 10 s timeout) with its
// failure policy set to p, served by downService in downNS, and selecting
// only pods labelled downLabel=p in downNS.
func downConfig(caBundle []byte, p admissionregistrationv1.FailurePolicyType) *admissionregistrationv1.MutatingWebhookConfiguration {
	cfg := azurewebhook.Config(caBundle, downService, downNS)
	cfg.Name = downConfigName(p)
	cfg.Labels = map[string]string{"app.kubernetes.io/part-of": "idlab-scenarios"}
	w := &cfg.Webhooks[0]
	policy := p
	w.FailurePolicy = &policy
	w.ObjectSelector = &metav1.LabelSelector{MatchLabels: map[string]string{downLabel: string(p)}}
	w.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: downNS}}
	return cfg
}

// downServiceObject is the webhook's Service with no ready endpoint: its
// selector matches no pod.
func downServiceObject() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: downService, Namespace: downNS},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": downService},
			Ports:    []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromInt32(azurewebhook.ContainerPort)}},
		},
	}
}

// downCallFailure is the reason the API server gives for a call to the
// stand-in whose Service has cluster IP clusterIP. The API server dials
// the Service's cluster IP (kube-apiserver resolves webhook Services with
// aggregatorapiserver.NewClusterIPServiceResolver unless
// --enable-aggregator-routing; cmd/kube-apiserver/app/server.go,
// buildServiceResolver, Kubernetes v1.34.4), where kube-proxy REJECTs a
// Service with no endpoints ("has no endpoints", pkg/proxy/iptables
// proxier.go), so the dial is refused. The text is ErrCallingWebhook's
// (k8s.io/apiserver pkg/util/webhook/error.go) around the mutating
// dispatcher's "failed to call webhook: %w" of client-go's *url.Error
// (pkg/admission/plugin/webhook/mutating/dispatcher.go), the URL being
// https://SERVICE.NAMESPACE.svc:PORT/PATH with the webhook's timeout
// (pkg/util/webhook/client.go).
func downCallFailure(clusterIP string) string {
	return fmt.Sprintf(`failed calling webhook %q: failed to call webhook: Post "https://%s.%s.svc:443%s?timeout=10s": dial tcp %s:443: connect: connection refused`,
		azurewebhook.WebhookName, downService, downNS, azurewebhook.WebhookPath, clusterIP)
}

// downRefusal is what a client creating a pod the Fail stand-in selects is
// told: the dispatcher returns apierrors.NewInternalError of the call's
// error (HTTP 500, reason InternalError).
func downRefusal(clusterIP string) string {
	return "Internal error occurred: " + downCallFailure(clusterIP)
}

// webhookFailures counts the kube-apiserver log lines in log that say it
// failed to call the stand-in, by failure policy: the mutating dispatcher
// logs "Failed calling webhook, failing open NAME: ERR" under Ignore and
// "Failed calling webhook, failing closed NAME: ERR" under Fail
// (klog.Warningf, dispatcher.go at v1.34.4), ERR starting with
// failure (downCallFailure). Other lines are skipped.
func webhookFailures(log []byte, failure string) (open, closed int) {
	prefix := func(policy string) []byte {
		return []byte("Failed calling webhook, failing " + policy + " " + azurewebhook.WebhookName + ": " + failure)
	}
	openLine, closedLine := prefix("open"), prefix("closed")
	for _, line := range bytes.Split(log, []byte("\n")) {
		switch {
		case bytes.Contains(line, openLine):
			open++
		case bytes.Contains(line, closedLine):
			closed++
		}
	}
	return open, closed
}
