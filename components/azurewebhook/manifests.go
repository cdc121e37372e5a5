package azurewebhook

import (
	"crypto/tls"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/idlab/idlab/internal/admission"
)

// The in-cluster contract between Manifests and `idlab azure-webhook`, with
// upstream's names, port and certificate directory (Helm chart
// workload-identity-webhook): the image's entrypoint is given
// ContainerArgs, serves HTTPS on ContainerPort with the kubernetes.io/tls
// Secret CertSecretName mounted at CertDir, and answers GET /healthz.
const (
	Name           = "azure-wi-webhook-controller-manager"
	CertSecretName = "azure-wi-webhook-server-cert"
	CertDir        = "/certs"
	ContainerPort  = 9443
	// SystemLabel marks upstream's own objects (and keeps the server's pods
	// out of any webhook that honours it).
	SystemLabel = "azure-workload-identity.io/system"
)

// ContainerArgs are the arguments Manifests gives the webhook container.
var ContainerArgs = []string{"azure-webhook", fmt.Sprintf("--addr=:%d", ContainerPort), "--cert-dir=" + CertDir}

// ServiceHosts are the DNS names the API server may dial the webhook's
// Service (Name) in namespace by.
func ServiceHosts(namespace string) []string { return admission.ServiceHosts(Name, namespace) }

func labels() map[string]string { return map[string]string{SystemLabel: "true"} }

// TLSSecret packs cert as the kubernetes.io/tls Secret CertSecretName.
func TLSSecret(namespace string, cert tls.Certificate) (*corev1.Secret, error) {
	return admission.TLSSecret(CertSecretName, namespace, labels(), cert)
}

// Manifests deploys the webhook in namespace with image (the idlab binary)
// and registers it with Config: upstream's objectSelector (pods labelled
// azure.workload.identity/use=true) and failurePolicy Fail. Its ClusterRole
// reads ServiceAccounts (get, list, watch: the cache).
func Manifests(image, namespace string, caBundle []byte) []runtime.Object {
	return admission.Server{Name: Name, Namespace: namespace, Image: image, Args: ContainerArgs, Port: ContainerPort,
		CertDir: CertDir, CertSecret: CertSecretName, Labels: labels(), SkipLabel: SystemLabel,
		ServiceAccountVerbs: []string{"get", "list", "watch"},
	}.Manifests(Config(caBundle, Name, namespace))
}
