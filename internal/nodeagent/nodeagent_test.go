package nodeagent

import (
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

func TestObjects(t *testing.T) {
	rules := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}
	for _, tc := range []struct {
		name      string
		rules     []rbacv1.PolicyRule
		ca        string
		wantKinds []string
	}{
		{name: "no RBAC, no CA", wantKinds: []string{"ServiceAccount", "DaemonSet"}},
		{name: "RBAC and CA", rules: rules, ca: "idlab-ca", wantKinds: []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := Agent{Name: "agent", Namespace: "ns", Image: "img", Rules: tc.rules, CAConfigMap: tc.ca,
				Init:            corev1.Container{Name: "init", Args: []string{"prepare"}},
				Container:       corev1.Container{Name: "agent", Args: []string{"serve"}},
				AddCapabilities: []corev1.Capability{"NET_BIND_SERVICE"},
			}.Objects()
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
			}
			require.Equal(t, tc.wantKinds, kinds)
			if tc.rules != nil {
				require.Equal(t, tc.rules, objs[1].(*rbacv1.ClusterRole).Rules)
				require.Empty(t, objs[1].(*rbacv1.ClusterRole).Namespace, "cluster-scoped")
				b := objs[2].(*rbacv1.ClusterRoleBinding)
				require.Equal(t, rbacv1.Subject{Kind: "ServiceAccount", Name: "agent", Namespace: "ns"}, b.Subjects[0])
			}
			ds := objs[len(objs)-1].(*appsv1.DaemonSet)
			require.Equal(t, "ns", ds.Namespace)
			spec := ds.Spec.Template.Spec
			require.True(t, spec.HostNetwork)
			require.Equal(t, "agent", spec.ServiceAccountName)
			init, c := spec.InitContainers[0], spec.Containers[0]
			require.Equal(t, "img", init.Image)
			require.True(t, *init.SecurityContext.Privileged, "the init container prepares the node")
			require.Equal(t, []corev1.VolumeMount{{Name: "host", MountPath: HostRoot}}, init.VolumeMounts)
			require.Equal(t, "/", spec.Volumes[0].HostPath.Path)
			require.Equal(t, "img", c.Image)
			require.Nil(t, c.SecurityContext.Privileged, "the agent is not privileged")
			require.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
			require.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
			require.Equal(t, []corev1.Capability{"NET_BIND_SERVICE"}, c.SecurityContext.Capabilities.Add)
			if tc.ca == "" {
				require.Empty(t, c.VolumeMounts)
				require.Len(t, spec.Volumes, 1)
				return
			}
			require.Equal(t, []corev1.VolumeMount{{Name: "lab-ca", MountPath: CADir, ReadOnly: true}}, c.VolumeMounts)
			require.Equal(t, tc.ca, spec.Volumes[1].ConfigMap.Name)
		})
	}
}
