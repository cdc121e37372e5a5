package azurewebhook

import (
	"testing"

	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

func TestManifests(t *testing.T) {
	objs := Manifests("idlab/emulator:x", "idlab-system", []byte("CA"))
	var cfg *admissionregistrationv1.MutatingWebhookConfiguration
	var dep *appsv1.Deployment
	var svc *corev1.Service
	var role *rbacv1.ClusterRole
	for _, o := range objs {
		switch v := o.(type) {
		case *admissionregistrationv1.MutatingWebhookConfiguration:
			cfg = v
		case *appsv1.Deployment:
			dep = v
		case *corev1.Service:
			svc = v
		case *rbacv1.ClusterRole:
			role = v
		}
	}
	require.NotNil(t, cfg)
	wh := cfg.Webhooks[0]
	require.Equal(t, map[string]string{UseLabel: "true"}, wh.ObjectSelector.MatchLabels, "upstream selects labelled pods")
	require.Empty(t, wh.ObjectSelector.MatchExpressions)
	require.Equal(t, admissionregistrationv1.Fail, *wh.FailurePolicy)
	require.Equal(t, Name, wh.ClientConfig.Service.Name)
	require.Equal(t, "idlab-system", wh.ClientConfig.Service.Namespace)
	require.Equal(t, WebhookPath, *wh.ClientConfig.Service.Path)
	require.Equal(t, []byte("CA"), wh.ClientConfig.CABundle)
	require.Equal(t, Name, svc.Name)
	require.Equal(t, int32(ContainerPort), svc.Spec.Ports[0].TargetPort.IntVal)
	ctr := dep.Spec.Template.Spec.Containers[0]
	require.Equal(t, ContainerArgs, ctr.Args)
	require.Equal(t, CertDir, ctr.VolumeMounts[0].MountPath)
	require.Equal(t, CertSecretName, dep.Spec.Template.Spec.Volumes[0].Secret.SecretName)
	require.NotContains(t, dep.Spec.Template.Labels, UseLabel, "the server's own pods are never mutated")
	require.Equal(t, []string{"get", "list", "watch"}, role.Rules[0].Verbs)
}
