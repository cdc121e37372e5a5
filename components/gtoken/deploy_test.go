package gtoken

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
	"sigs.k8s.io/yaml"

	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/golden"
)

// TestManifests pins the deployment objects in testdata/manifests.golden
// (-update rewrites it) and checks what the lab relies on.
func TestManifests(t *testing.T) {
	objs := Manifests("idlab:dev", "gtoken:dev", "idlab-system", []byte("CA"))
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
	require.Equal(t, []string{"get"}, role.Rules[0].Verbs)
	require.Equal(t, []string{"serviceaccounts"}, role.Rules[0].Resources)
	require.Equal(t, "idlab-system", objs[2].(*rbacv1.ClusterRoleBinding).Subjects[0].Namespace)
	pod := objs[3].(*appsv1.Deployment).Spec.Template
	require.Equal(t, "true", pod.Labels[LabelSkipWebhook], "the webhook must not wait on itself")
	require.Equal(t, CertSecretName, pod.Spec.Volumes[0].Secret.SecretName)
	require.Contains(t, pod.Spec.Containers[0].Args, "--image=gtoken:dev")
	svc := objs[4].(*corev1.Service)
	require.EqualValues(t, ContainerPort, svc.Spec.Ports[0].TargetPort.IntVal)
	mwc := objs[5].(*admissionregistrationv1.MutatingWebhookConfiguration)
	require.Equal(t, svc.Name, mwc.Webhooks[0].ClientConfig.Service.Name)
	require.Equal(t, admissionregistrationv1.Ignore, *mwc.Webhooks[0].FailurePolicy)
}

func TestTLSSecret(t *testing.T) {
	ca, err := certs.NewCA("test")
	require.NoError(t, err)
	hosts := ServiceHosts("ns")
	require.Contains(t, hosts, "gtoken-webhook.ns.svc")
	cert, err := ca.Issue(hosts...)
	require.NoError(t, err)
	s, err := TLSSecret("ns", cert)
	require.NoError(t, err)
	require.Equal(t, CertSecretName, s.Name)
	require.Equal(t, "ns", s.Namespace)
	require.Equal(t, Name, s.Labels["app"])
	require.Equal(t, corev1.SecretTypeTLS, s.Type)
	_, err = tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	require.NoError(t, err)

	_, err = TLSSecret("ns", tls.Certificate{})
	require.Error(t, err)
}
