package admission

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Server describes how a webhook server runs in a cluster: one replica of
// Image serving HTTPS on Port with the kubernetes.io/tls Secret CertSecret
// mounted at CertDir, answering GET /healthz, behind a Service on 443.
type Server struct {
	Name, Namespace, Image string
	Args                   []string
	Port                   int32
	CertDir, CertSecret    string
	// Labels go on every object.
	Labels map[string]string
	// SkipLabel goes on the server's own pods, so its webhook never
	// mutates them.
	SkipLabel string
	// ServiceAccountVerbs is what its ClusterRole allows on serviceaccounts.
	ServiceAccountVerbs []string
}

// ServiceHosts are the DNS names the API server may dial a webhook's
// Service by; the serving certificate must hold them.
func ServiceHosts(service, namespace string) []string {
	return []string{
		service,
		service + "." + namespace,
		service + "." + namespace + ".svc",
		service + "." + namespace + ".svc.cluster.local",
	}
}

// Manifests returns what deploys s, in apply order: its ServiceAccount, a
// ClusterRole on serviceaccounts and its binding, the Deployment, the
// Service (443 -> Port) and config. The serving certificate's Secret
// (TLSSecret) is the caller's, as the key must not be baked into manifests.
func (s Server) Manifests(config *admissionregistrationv1.MutatingWebhookConfiguration) []runtime.Object {
	meta := func(namespaced bool) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: s.Name, Labels: s.Labels}
		if namespaced {
			m.Namespace = s.Namespace
		}
		return m
	}
	selector := map[string]string{"app": s.Name}
	podLabels := map[string]string{"app": s.Name, s.SkipLabel: "true"}
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
				Verbs:     s.ServiceAccountVerbs,
			}},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
			ObjectMeta: meta(false),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: s.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: s.Name, Namespace: s.Namespace}},
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
						ServiceAccountName: s.Name,
						SecurityContext:    &corev1.PodSecurityContext{RunAsNonRoot: &nonRoot, RunAsUser: &uid},
						Containers: []corev1.Container{{
							Name:            s.Name,
							Image:           s.Image,
							ImagePullPolicy: corev1.PullIfNotPresent,
							Args:            s.Args,
							Ports:           []corev1.ContainerPort{{Name: "https", ContainerPort: s.Port}},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
								Path: "/healthz", Port: intstr.FromInt32(s.Port), Scheme: corev1.URISchemeHTTPS,
							}}},
							VolumeMounts: []corev1.VolumeMount{{Name: "cert", MountPath: s.CertDir, ReadOnly: true}},
							SecurityContext: &corev1.SecurityContext{
								AllowPrivilegeEscalation: &noEscalation,
								ReadOnlyRootFilesystem:   &readOnlyRoot,
							},
						}},
						Volumes: []corev1.Volume{{Name: "cert", VolumeSource: corev1.VolumeSource{
							Secret: &corev1.SecretVolumeSource{SecretName: s.CertSecret},
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
					Name: "https", Port: 443, TargetPort: intstr.FromInt32(s.Port), Protocol: corev1.ProtocolTCP,
				}},
			},
		},
		config,
	}
}

// TLSSecret packs cert (chain and key) as the kubernetes.io/tls Secret a
// Server mounts.
func TLSSecret(name, namespace string, labels map[string]string, cert tls.Certificate) (*corev1.Secret, error) {
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
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       chain.Bytes(),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		},
	}, nil
}
