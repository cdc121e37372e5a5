package labca

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/idlab/idlab/internal/golden"
)

// TestManifests pins the deployment objects in testdata/manifests.golden
// (-update rewrites it) and checks what the lab relies on.
func TestManifests(t *testing.T) {
	b := Bundle{All: []byte("ROOTS+LAB"), LabCA: []byte("LAB")}
	objs := Manifests("idlab:dev", "idlab-system", []byte("CA"), b)
	var docs []string
	for _, o := range objs {
		raw, err := yaml.Marshal(o)
		require.NoError(t, err)
		docs = append(docs, string(raw))
	}
	golden.File(t, filepath.Join("testdata", "manifests.golden"), []byte(strings.Join(docs, "---\n")))

	require.Len(t, objs, 7)
	src := objs[0].(*corev1.ConfigMap)
	require.Equal(t, SourceConfigMap, src.Name)
	require.Equal(t, b.Data(), src.Data)
	role := objs[2].(*rbacv1.ClusterRole)
	require.Equal(t, []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update"}},
	}, role.Rules, "it reads namespaces and writes the bundle's ConfigMaps, nothing else")
	dep := objs[4].(*appsv1.Deployment)
	pod := dep.Spec.Template
	require.Equal(t, b.Hash(), pod.Annotations[BundleHashAnnotation])
	require.Equal(t, "true", pod.Labels[SkipLabel], "the webhook must not wait on itself")
	require.Equal(t, ContainerArgs, pod.Spec.Containers[0].Args)
	require.Contains(t, pod.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "bundle", MountPath: SourceDir, ReadOnly: true})
	mwc := objs[6].(*admissionregistrationv1.MutatingWebhookConfiguration)
	wh := mwc.Webhooks[0]
	require.Equal(t, map[string]string{NamespaceLabel: NamespaceEnabled}, wh.NamespaceSelector.MatchLabels, "opt-in per namespace")
	require.Equal(t, admissionregistrationv1.Ignore, *wh.FailurePolicy)
	require.Equal(t, admissionregistrationv1.IfNeededReinvocationPolicy, *wh.ReinvocationPolicy)
	require.Equal(t, SkipLabel, wh.ObjectSelector.MatchExpressions[0].Key)
	require.Equal(t, MutatePath, *wh.ClientConfig.Service.Path)
}
