package gkemetadata

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/idlab/idlab/internal/golden"
)

var manifestOpts = ManifestOptions{ProjectID: project, ProjectNumber: projNum, ClusterName: "gke", ClusterLocation: "us-central1",
	IssuerURL: issuerURL, CAConfigMap: "idlab-ca"}

// TestManifests pins the objects in testdata/manifests.golden (-update
// rewrites it) and checks what the lab relies on.
func TestManifests(t *testing.T) {
	objs := Manifests("idlab:dev", "kube-system", manifestOpts)
	var docs []string
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		require.NoError(t, err)
		docs = append(docs, string(b))
	}
	got := strings.Join(docs, "---\n")
	golden.File(t, filepath.Join("testdata", "manifests.golden"), []byte(got))

	require.Len(t, objs, 4)
	role := objs[1].(*rbacv1.ClusterRole)
	require.Equal(t, []string{"serviceaccounts/token"}, role.Rules[2].Resources)
	require.Equal(t, []string{"create"}, role.Rules[2].Verbs)
	binding := objs[2].(*rbacv1.ClusterRoleBinding)
	require.Equal(t, "kube-system", binding.Subjects[0].Namespace)
	ds := objs[3].(*appsv1.DaemonSet)
	spec := ds.Spec.Template.Spec
	require.True(t, spec.HostNetwork)
	require.True(t, *spec.InitContainers[0].SecurityContext.Privileged)
	require.Equal(t, InstallDNATArgs, spec.InitContainers[0].Args)
	require.Equal(t, "NODE_IP", spec.InitContainers[0].Env[0].Name)
	require.Equal(t, "status.hostIP", spec.InitContainers[0].Env[0].ValueFrom.FieldRef.FieldPath)
	require.Equal(t, "/", spec.Volumes[0].HostPath.Path)
	require.Contains(t, spec.Containers[0].Args, "--addr=:988")
	require.Contains(t, spec.Containers[0].Args, "--issuer-url="+issuerURL)
	require.EqualValues(t, Port, spec.Containers[0].Ports[0].HostPort)
}
