package kube2iam

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Name is the DaemonSet, ServiceAccount and ClusterRole name.
const Name = "kube2iam"

// In-cluster contract between Manifests and `idlab kube2iam`: the init
// container installs the DNAT through the host's / at HostRoot; the
// proxy trusts the lab CA (key CAKey of ManifestOptions.CAConfigMap) at
// CADir for STS.
const (
	HostRoot = "/host"
	CADir    = "/etc/idlab/ca"
	CAKey    = "ca.crt"
)

// ManifestOptions are the deployment's settings, upstream's flags.
type ManifestOptions struct {
	HostInterface        string // --host-interface: the pods' bridge (cni0 in the lab)
	BaseRoleARN          string
	DefaultRole          string
	NamespaceRestriction bool
	Region               string // AWS_REGION, for --use-regional-sts-endpoint
	UseRegionalSTS       bool
	// CAConfigMap names a ConfigMap in the namespace with the lab CA under CAKey.
	CAConfigMap string
}

// Args are the proxy container's arguments.
func Args(o ManifestOptions) []string {
	args := []string{"kube2iam", "serve", fmt.Sprintf("--app-port=%d", DefaultAppPort), "--host-ip=$(HOST_IP)", "--node=$(NODE_NAME)",
		"--host-interface=" + o.HostInterface, "--log-format=json"}
	if o.BaseRoleARN != "" {
		args = append(args, "--base-role-arn="+o.BaseRoleARN)
	}
	if o.DefaultRole != "" {
		args = append(args, "--default-role="+o.DefaultRole)
	}
	if o.NamespaceRestriction {
		args = append(args, "--namespace-restrictions")
	}
	if o.UseRegionalSTS {
		args = append(args, "--use-regional-sts-endpoint")
	}
	return args
}

// IPTablesArgs are the init container's arguments.
func IPTablesArgs(o ManifestOptions) []string {
	return []string{"kube2iam", "iptables", "--host-root=" + HostRoot, "--host-interface=" + o.HostInterface, "--host-ip=$(HOST_IP)",
		fmt.Sprintf("--app-port=%d", DefaultAppPort)}
}

// Manifests deploys the proxy in namespace from image, in apply order: its
// ServiceAccount, a ClusterRole reading pods and namespaces and its
// binding, and a hostNetwork DaemonSet whose privileged init container
// installs the DNAT (upstream's --iptables).
func Manifests(image, namespace string, o ManifestOptions) []runtime.Object {
	meta := func(namespaced bool) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: Name, Labels: map[string]string{"app.kubernetes.io/name": Name, "app.kubernetes.io/part-of": "idlab"}}
		if namespaced {
			m.Namespace = namespace
		}
		return m
	}
	selector := map[string]string{"app": Name}
	privileged, noEscalation, readOnlyRoot := true, false, true
	env := []corev1.EnvVar{
		{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
		{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
	}
	if o.Region != "" {
		env = append(env, corev1.EnvVar{Name: "AWS_REGION", Value: o.Region})
	}
	var mounts []corev1.VolumeMount
	volumes := []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
	if o.CAConfigMap != "" {
		env = append(env, corev1.EnvVar{Name: "SSL_CERT_FILE", Value: CADir + "/" + CAKey})
		mounts = append(mounts, corev1.VolumeMount{Name: "lab-ca", MountPath: CADir, ReadOnly: true})
		volumes = append(volumes, corev1.Volume{Name: "lab-ca", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: o.CAConfigMap}}}})
	}
	return []runtime.Object{
		&corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(true)},
		&rbacv1.ClusterRole{
			TypeMeta: metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"}, ObjectMeta: meta(false),
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"get", "list", "watch"}}},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta: metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"}, ObjectMeta: meta(false),
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: Name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: Name, Namespace: namespace}},
		},
		&appsv1.DaemonSet{
			TypeMeta: metav1.TypeMeta{APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "DaemonSet"}, ObjectMeta: meta(true),
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: selector},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: selector},
					Spec: corev1.PodSpec{
						ServiceAccountName: Name,
						HostNetwork:        true,
						// Cluster DNS sends sts.amazonaws.com to the lab's emulator.
						DNSPolicy:   corev1.DNSClusterFirstWithHostNet,
						Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
						InitContainers: []corev1.Container{{
							Name: "iptables", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
							Args: IPTablesArgs(o), Env: env[:1],
							SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
							VolumeMounts:    []corev1.VolumeMount{{Name: "host", MountPath: HostRoot}},
						}},
						Containers: []corev1.Container{{
							Name: Name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
							Args: Args(o), Env: env, VolumeMounts: mounts,
							Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: DefaultAppPort, HostPort: DefaultAppPort, Protocol: corev1.ProtocolTCP}},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(DefaultAppPort)}}},
							SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &noEscalation, ReadOnlyRootFilesystem: &readOnlyRoot,
								Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
						}},
						Volumes: volumes,
					},
				},
			},
		},
	}
}
