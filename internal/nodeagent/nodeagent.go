// Package nodeagent builds the Kubernetes objects of the lab's node agents
// (the EKS Pod Identity Agent, the GKE metadata server, kube2iam), which
// all deploy the same way: a ServiceAccount, optional cluster RBAC, and a
// hostNetwork DaemonSet on every node whose privileged init container
// prepares the node through the host's / mounted at HostRoot and whose
// agent container runs with no privilege, trusting the lab CA when given.
package nodeagent

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Where the init container finds the host's / and the agent container the
// lab CA bundle (key CAKey of Agent.CAConfigMap, mounted at CADir).
const (
	HostRoot = "/host"
	CADir    = "/etc/idlab/ca"
	CAKey    = "ca.crt"
	// CAFile is the bundle's path in the agent container.
	CAFile = CADir + "/" + CAKey
)

// Agent describes one node agent's deployment.
type Agent struct {
	Name, Namespace, Image string
	// Rules, when any, are granted to the ServiceAccount by a ClusterRole
	// and ClusterRoleBinding, both named Name.
	Rules []rbacv1.PolicyRule
	// CAConfigMap names a ConfigMap in Namespace holding the lab CA bundle
	// under CAKey, mounted at CADir in the agent container. "" mounts none.
	CAConfigMap string
	// PriorityClassName and TerminationGracePeriodSeconds of the pods.
	PriorityClassName             string
	TerminationGracePeriodSeconds *int64
	// Init prepares the node (Name, Args, Env); Objects sets its image,
	// pull policy, privilege and the host mount.
	Init corev1.Container
	// Container is the agent (Name, Args, Env, Ports, ReadinessProbe);
	// Objects sets its image, pull policy, the CA mount and a security
	// context that drops all capabilities but AddCapabilities.
	Container       corev1.Container
	AddCapabilities []corev1.Capability
}

// Objects returns the agent's objects in apply order: ServiceAccount,
// ClusterRole and ClusterRoleBinding (with Rules), DaemonSet.
func (a Agent) Objects() []runtime.Object {
	meta := func(namespaced bool) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: a.Name, Labels: map[string]string{"app.kubernetes.io/name": a.Name, "app.kubernetes.io/part-of": "idlab"}}
		if namespaced {
			m.Namespace = a.Namespace
		}
		return m
	}
	objs := []runtime.Object{&corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(true)}}
	if len(a.Rules) > 0 {
		objs = append(objs,
			&rbacv1.ClusterRole{
				TypeMeta: metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"}, ObjectMeta: meta(false),
				Rules: a.Rules,
			},
			&rbacv1.ClusterRoleBinding{
				TypeMeta: metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"}, ObjectMeta: meta(false),
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: a.Name},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: a.Name, Namespace: a.Namespace}},
			})
	}
	privileged, noEscalation, readOnlyRoot := true, false, true
	volumes := []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
	init, c := a.Init, a.Container
	init.Image, init.ImagePullPolicy = a.Image, corev1.PullIfNotPresent
	init.SecurityContext = &corev1.SecurityContext{Privileged: &privileged}
	init.VolumeMounts = []corev1.VolumeMount{{Name: "host", MountPath: HostRoot}}
	c.Image, c.ImagePullPolicy = a.Image, corev1.PullIfNotPresent
	c.SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: &noEscalation, ReadOnlyRootFilesystem: &readOnlyRoot,
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: a.AddCapabilities}}
	if a.CAConfigMap != "" {
		c.VolumeMounts = []corev1.VolumeMount{{Name: "lab-ca", MountPath: CADir, ReadOnly: true}}
		volumes = append(volumes, corev1.Volume{Name: "lab-ca", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: a.CAConfigMap}}}})
	}
	selector := map[string]string{"app": a.Name}
	return append(objs, &appsv1.DaemonSet{
		TypeMeta: metav1.TypeMeta{APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "DaemonSet"}, ObjectMeta: meta(true),
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: selector},
				Spec: corev1.PodSpec{
					ServiceAccountName: a.Name,
					HostNetwork:        true,
					// Cluster DNS sends the cloud's endpoints to the lab's emulator.
					DNSPolicy:                     corev1.DNSClusterFirstWithHostNet,
					PriorityClassName:             a.PriorityClassName,
					TerminationGracePeriodSeconds: a.TerminationGracePeriodSeconds,
					Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					InitContainers:                []corev1.Container{init},
					Containers:                    []corev1.Container{c},
					Volumes:                       volumes,
				},
			},
		},
	})
}
