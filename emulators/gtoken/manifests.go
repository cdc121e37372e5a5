package gtoken

import (
	"crypto/tls"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/idlab/idlab/emulators/irsawebhook"
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
func ServiceHosts(namespace string) []string { return irsawebhook.ServiceHosts(Name, namespace) }

// TLSSecret packs cert as the kubernetes.io/tls Secret CertSecretName the
// Deployment mounts.
func TLSSecret(namespace string, cert tls.Certificate) (*corev1.Secret, error) {
	s, err := irsawebhook.TLSSecret(namespace, cert)
	if err != nil {
		return nil, err
	}
	s.Name, s.Labels = CertSecretName, labels()
	return s, nil
}

// Manifests returns what deploys the webhook in namespace from image, with
// gtokenImage for the injected containers: its ServiceAccount, a ClusterRole
// (get serviceaccounts) and binding, the Deployment, the Service
// (443 -> ContainerPort) and the MutatingWebhookConfiguration trusting
// caBundle, in apply order. The certificate Secret (TLSSecret) is the
// caller's.
func Manifests(image, gtokenImage, namespace string, caBundle []byte) []runtime.Object {
	meta := func(namespaced bool) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: Name, Labels: labels()}
		if namespaced {
			m.Namespace = namespace
		}
		return m
	}
	selector := map[string]string{"app": Name}
	podLabels := map[string]string{"app": Name, LabelSkipWebhook: "true"}
	replicas := int32(1)
	nonRoot := true
	uid := int64(65534)
	noEscalation := false
	readOnlyRoot := true

	return []runtime.Object{
		&corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: meta(true),
		},
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
			ObjectMeta: meta(false),
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{""},
				Resources: []string{"serviceaccounts"},
				Verbs:     []string{"get"},
			}},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
			ObjectMeta: meta(false),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: Name, Namespace: namespace}},
		},
		&appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "Deployment"},
			ObjectMeta: meta(true),
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: selector},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
					Spec: corev1.PodSpec{
						ServiceAccountName: Name,
						SecurityContext:    &corev1.PodSecurityContext{RunAsNonRoot: &nonRoot, RunAsUser: &uid},
						Containers: []corev1.Container{{
							Name:            Name,
							Image:           image,
							ImagePullPolicy: corev1.PullIfNotPresent,
							Args:            ContainerArgs(gtokenImage),
							Ports:           []corev1.ContainerPort{{Name: "https", ContainerPort: ContainerPort}},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
								Path: "/healthz", Port: intstr.FromInt32(ContainerPort), Scheme: corev1.URISchemeHTTPS,
							}}},
							VolumeMounts: []corev1.VolumeMount{{Name: "cert", MountPath: CertDir, ReadOnly: true}},
							SecurityContext: &corev1.SecurityContext{
								AllowPrivilegeEscalation: &noEscalation,
								ReadOnlyRootFilesystem:   &readOnlyRoot,
							},
						}},
						Volumes: []corev1.Volume{{Name: "cert", VolumeSource: corev1.VolumeSource{
							Secret: &corev1.SecretVolumeSource{SecretName: CertSecretName},
						}}},
					},
				},
			},
		},
		&corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: meta(true),
			Spec: corev1.ServiceSpec{
				Selector: selector,
				Ports: []corev1.ServicePort{{
					Name: "https", Port: 443, TargetPort: intstr.FromInt32(ContainerPort), Protocol: corev1.ProtocolTCP,
				}},
			},
		},
		Config(caBundle, Name, namespace),
	}
}

// labels marks every object the lab creates for the webhook.
func labels() map[string]string {
	return map[string]string{"app": Name, "app.kubernetes.io/managed-by": "idlab"}
}
