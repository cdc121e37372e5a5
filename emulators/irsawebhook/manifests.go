package irsawebhook

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
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
	return []string{
		service,
		service + "." + namespace,
		service + "." + namespace + ".svc",
		service + "." + namespace + ".svc.cluster.local",
	}
}

// Manifests returns what deploys the webhook in namespace from image: its
// ServiceAccount, a ClusterRole (get/list/watch serviceaccounts) and binding,
// the Deployment, the Service (443 -> ContainerPort) and the
// MutatingWebhookConfiguration trusting caBundle, in apply order. The serving
// certificate's Secret (TLSSecret) is the caller's, as the key must not be
// baked into manifests.
func Manifests(image, namespace string, caBundle []byte) []runtime.Object {
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
				Verbs:     []string{"get", "list", "watch"},
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
							Args:            ContainerArgs,
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

// TLSSecret packs cert (chain and key) as the kubernetes.io/tls Secret the
// Deployment mounts.
func TLSSecret(namespace string, cert tls.Certificate) (*corev1.Secret, error) {
	if len(cert.Certificate) == 0 || cert.PrivateKey == nil {
		return nil, errors.New("tls secret: certificate without chain or key")
	}
	var chain bytes.Buffer
	for _, der := range cert.Certificate {
		if err := pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
			return nil, fmt.Errorf("tls secret: encode certificate: %w", err)
		}
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("tls secret: marshal key: %w", err)
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: CertSecretName, Namespace: namespace, Labels: labels()},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       chain.Bytes(),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		},
	}, nil
}
