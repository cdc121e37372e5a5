package irsawebhook

import (
	"crypto/tls"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/idlab/idlab/internal/admission"
)

// The in-cluster contract between Manifests and the command that runs the
// webhook (cmd wiring comes later): the image's entrypoint is given
// ContainerArgs, serves HTTPS on ContainerPort with the kubernetes.io/tls
// Secret CertSecretName mounted at CertDir (tls.crt, tls.key), and answers
// GET /healthz.
const (
	CertSecretName = Name + "-cert"
	CertDir        = "/etc/webhook/certs"
	ContainerPort  = 8443
)

// ContainerArgs are the arguments Manifests gives the webhook container.
var ContainerArgs = []string{"irsa-webhook", fmt.Sprintf("--addr=:%d", ContainerPort), "--cert-dir=" + CertDir}

// ServiceHosts are the DNS names the API server may dial the webhook's
// Service by; the serving certificate must hold them.
func ServiceHosts(service, namespace string) []string {
	return admission.ServiceHosts(service, namespace)
}

// Manifests returns what deploys the webhook in namespace from image: its
// ServiceAccount, a ClusterRole (get/list/watch serviceaccounts) and binding,
// the Deployment, the Service (443 -> ContainerPort) and the
// MutatingWebhookConfiguration trusting caBundle, in apply order. The serving
// certificate's Secret (TLSSecret) is the caller's, as the key must not be
// baked into manifests.
func Manifests(image, namespace string, caBundle []byte) []runtime.Object {
	return admission.Server{Name: Name, Namespace: namespace, Image: image, Args: ContainerArgs, Port: ContainerPort,
		CertDir: CertDir, CertSecret: CertSecretName, Labels: labels(), SkipLabel: LabelSkipWebhook,
		ServiceAccountVerbs: []string{"get", "list", "watch"},
	}.Manifests(Config(caBundle, Name, namespace))
}

// TLSSecret packs cert (chain and key) as the kubernetes.io/tls Secret the
// Deployment mounts.
func TLSSecret(namespace string, cert tls.Certificate) (*corev1.Secret, error) {
	return admission.TLSSecret(CertSecretName, namespace, labels(), cert)
}
