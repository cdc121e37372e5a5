package irsawebhook

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/golden"
)

func TestConfig(t *testing.T) {
	c := Config([]byte("CA"), "svc", "ns")
	require.Len(t, c.Webhooks, 1)
	w := c.Webhooks[0]
	require.Equal(t, WebhookName, w.Name)
	require.Equal(t, admissionregistrationv1.Ignore, *w.FailurePolicy)
	require.Equal(t, admissionregistrationv1.SideEffectClassNone, *w.SideEffects)
	require.Equal(t, []string{"v1"}, w.AdmissionReviewVersions)
	require.Equal(t, admissionregistrationv1.IfNeededReinvocationPolicy, *w.ReinvocationPolicy)
	require.Equal(t, []byte("CA"), w.ClientConfig.CABundle)
	require.Equal(t, "svc", w.ClientConfig.Service.Name)
	require.Equal(t, "ns", w.ClientConfig.Service.Namespace)
	require.Equal(t, MutatePath, *w.ClientConfig.Service.Path)
	require.Equal(t, []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, w.Rules[0].Operations)
	require.Equal(t, []string{"pods"}, w.Rules[0].Resources)
	require.Equal(t, []metav1.LabelSelectorRequirement{{Key: LabelSkipWebhook, Operator: metav1.LabelSelectorOpDoesNotExist}}, w.ObjectSelector.MatchExpressions)
	require.Less(t, DefaultLookupTimeout.Seconds(), float64(*w.TimeoutSeconds), "lookups must finish inside the webhook timeout")
}

// TestManifests pins the deployment objects in testdata/manifests.golden
// (-update rewrites it) and checks what the lab relies on.
func TestManifests(t *testing.T) {
	objs := Manifests("idlab:dev", "idlab-system", []byte("CA"))
	var docs []string
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		require.NoError(t, err)
		docs = append(docs, string(b))
	}
	got := strings.Join(docs, "---\n")
	golden.File(t, filepath.Join("testdata", "manifests.golden"), []byte(got))

	require.Len(t, objs, 6)
	role := objs[1].(*rbacv1.ClusterRole)
	require.Equal(t, []string{"get", "list", "watch"}, role.Rules[0].Verbs)
	require.Equal(t, []string{"serviceaccounts"}, role.Rules[0].Resources)
	binding := objs[2].(*rbacv1.ClusterRoleBinding)
	require.Equal(t, "idlab-system", binding.Subjects[0].Namespace)
	dep := objs[3].(*appsv1.Deployment)
	pod := dep.Spec.Template
	require.Equal(t, "true", pod.Labels[LabelSkipWebhook], "the webhook must not wait on itself")
	require.Equal(t, CertSecretName, pod.Spec.Volumes[0].Secret.SecretName)
	require.Equal(t, "idlab:dev", pod.Spec.Containers[0].Image)
	svc := objs[4].(*corev1.Service)
	require.EqualValues(t, 443, svc.Spec.Ports[0].Port)
	require.EqualValues(t, ContainerPort, svc.Spec.Ports[0].TargetPort.IntVal)
	mwc := objs[5].(*admissionregistrationv1.MutatingWebhookConfiguration)
	require.Equal(t, svc.Name, mwc.Webhooks[0].ClientConfig.Service.Name)
}

func TestTLSSecret(t *testing.T) {
	ca, err := certs.NewCA("test")
	require.NoError(t, err)
	cert, err := ca.Issue(ServiceHosts(Name, "ns")...)
	require.NoError(t, err)
	s, err := TLSSecret("ns", cert)
	require.NoError(t, err)
	require.Equal(t, corev1.SecretTypeTLS, s.Type)
	pair, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	require.NoError(t, err)
	require.Len(t, pair.Certificate, 2, "leaf and CA")

	_, err = TLSSecret("ns", tls.Certificate{})
	require.Error(t, err)
}
