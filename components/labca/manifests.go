package labca

import (
	"crypto/tls"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/idlab/idlab/internal/admission"
)

// The in-cluster contract between Manifests and `idlab lab-ca-webhook`:
// the image's entrypoint is given ContainerArgs, serves HTTPS on
// ContainerPort with the kubernetes.io/tls Secret CertSecretName mounted at
// CertDir, reads the bundle from SourceConfigMap mounted at SourceDir, and
// answers GET /healthz.
const (
	CertSecretName = Name + "-cert"
	CertDir        = "/etc/webhook/certs"
	ContainerPort  = 8443
	// SourceConfigMap holds the bundle in the webhook's namespace; the
	// Publisher copies it into the labelled namespaces.
	SourceConfigMap = Name + "-source"
	SourceDir       = "/etc/idlab-lab-ca-source"
	// BundleHashAnnotation on the webhook's pods restarts them when the
	// bundle changes.
	BundleHashAnnotation = "idlab.dev/lab-ca-bundle"
)

// ContainerArgs are the arguments Manifests gives the webhook container.
var ContainerArgs = []string{"lab-ca-webhook", fmt.Sprintf("--addr=:%d", ContainerPort), "--cert-dir=" + CertDir, "--bundle-dir=" + SourceDir}

// ServiceHosts are the DNS names the API server may dial the webhook's
// Service (Name) in namespace by.
func ServiceHosts(namespace string) []string { return admission.ServiceHosts(Name, namespace) }

// TLSSecret packs cert as the kubernetes.io/tls Secret CertSecretName.
func TLSSecret(namespace string, cert tls.Certificate) (*corev1.Secret, error) {
	return admission.TLSSecret(CertSecretName, namespace, labels(), cert)
}

// SourceConfig is the bundle as SourceConfigMap in namespace.
func SourceConfig(namespace string, b Bundle) *corev1.ConfigMap {
	return &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: SourceConfigMap, Namespace: namespace, Labels: labels()}, Data: b.Data()}
}

// Manifests returns what deploys the webhook in namespace from image (the
// idlab binary), in apply order: the bundle's SourceConfigMap, its
// ServiceAccount, a ClusterRole to watch namespaces and write the bundle's
// ConfigMaps and its binding, the Deployment (mounting the bundle, its pods
// annotated with the bundle's hash), the Service (443 -> ContainerPort)
// and the MutatingWebhookConfiguration trusting caBundle. The serving
// certificate's Secret (TLSSecret) is the caller's.
func Manifests(image, namespace string, caBundle []byte, b Bundle) []runtime.Object {
	objs := admission.Server{Name: Name, Namespace: namespace, Image: image, Args: ContainerArgs, Port: ContainerPort,
		CertDir: CertDir, CertSecret: CertSecretName, Labels: labels(), SkipLabel: SkipLabel,
	}.Manifests(Config(caBundle, Name, namespace))
	for _, o := range objs {
		switch o := o.(type) {
		case *rbacv1.ClusterRole:
			// ConfigMaps in any namespace: the labelled ones are not known
			// in advance. Nothing else is written.
			o.Rules = []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update"}},
			}
		case *appsv1.Deployment:
			spec := &o.Spec.Template.Spec
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "bundle", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: SourceConfigMap}}}})
			ctr := &spec.Containers[0]
			ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "bundle", MountPath: SourceDir, ReadOnly: true})
			o.Spec.Template.Annotations = map[string]string{BundleHashAnnotation: b.Hash()}
		}
	}
	return append([]runtime.Object{SourceConfig(namespace, b)}, objs...)
}

// labels marks every object the lab creates for the webhook.
func labels() map[string]string {
	return map[string]string{"app": Name, "app.kubernetes.io/managed-by": "idlab"}
}
