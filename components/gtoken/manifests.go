package gtoken

import (
	"crypto/tls"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/idlab/idlab/components/irsawebhook"
	"github.com/idlab/idlab/internal/admission"
)

// The in-cluster contract between Manifests and the command that runs the
// webhook (cmd wiring comes later), the same as irsawebhook's: the image's
// entrypoint is given ContainerArgs, serves HTTPS on ContainerPort with the
// kubernetes.io/tls Secret CertSecretName mounted at CertDir, and answers
// GET /healthz.
const (
	CertSecretName = Name + "-cert"
	CertDir        = irsawebhook.CertDir
	ContainerPort  = irsawebhook.ContainerPort
)

// ContainerArgs are the arguments Manifests gives the webhook container;
// gtokenImage becomes Options.Image.
func ContainerArgs(gtokenImage string) []string {
	return []string{"gtoken-webhook", fmt.Sprintf("--addr=:%d", ContainerPort), "--cert-dir=" + CertDir, "--image=" + gtokenImage}
}

// ServiceHosts are the DNS names the API server may dial the webhook's
// Service (Name) in namespace by.
func ServiceHosts(namespace string) []string { return admission.ServiceHosts(Name, namespace) }

// TLSSecret packs cert as the kubernetes.io/tls Secret CertSecretName the
// Deployment mounts.
func TLSSecret(namespace string, cert tls.Certificate) (*corev1.Secret, error) {
	return admission.TLSSecret(CertSecretName, namespace, labels(), cert)
}

// Manifests returns what deploys the webhook in namespace from image, with
// gtokenImage for the injected containers: its ServiceAccount, a ClusterRole
// (get serviceaccounts) and binding, the Deployment, the Service
// (443 -> ContainerPort) and the MutatingWebhookConfiguration trusting
// caBundle, in apply order. The certificate Secret (TLSSecret) is the
// caller's.
func Manifests(image, gtokenImage, namespace string, caBundle []byte) []runtime.Object {
	return admission.Server{Name: Name, Namespace: namespace, Image: image, Args: ContainerArgs(gtokenImage), Port: ContainerPort,
		CertDir: CertDir, CertSecret: CertSecretName, Labels: labels(), SkipLabel: LabelSkipWebhook,
		ServiceAccountVerbs: []string{"get"},
	}.Manifests(Config(caBundle, Name, namespace))
}

// labels marks every object the lab creates for the webhook.
func labels() map[string]string {
	return map[string]string{"app": Name, "app.kubernetes.io/managed-by": "idlab"}
}
