package gkemetadata

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Name is the DaemonSet, ServiceAccount and ClusterRole name (GKE's own
// DaemonSet in kube-system is gke-metadata-server).
const Name = "gke-metadata-server"

// The in-cluster contract between Manifests and the command that runs the
// server (cmd wiring comes later): the main container gets
// ContainerArgs(opts) and serves HTTP on Port of the node (hostNetwork);
// the init container gets InstallDNATArgs and calls InstallDNAT with the
// host's / mounted at HostRoot. Both read NODE_NAME and NODE_IP from the
// downward API (Kubernetes expands $(NODE_NAME) and $(NODE_IP) in args).
// With ManifestOptions.CAConfigMap the lab CA bundle (key CAKey) is
// mounted at CADir and SSL_CERT_FILE points at it.
const (
	HostRoot = "/host"
	CADir    = "/etc/idlab/ca"
	CAKey    = "ca.crt"
)

// InstallDNATArgs are the init container's arguments.
var InstallDNATArgs = []string{"gke-metadata", "install-dnat", "--host-root=" + HostRoot, "--node-ip=$(NODE_IP)", fmt.Sprintf("--port=%d", Port)}

// ManifestOptions are the cluster facts the server is started with.
type ManifestOptions struct {
	ProjectID, ProjectNumber     string
	ClusterName, ClusterLocation string
	IssuerURL                    string
	// CAConfigMap names a ConfigMap in the namespace holding the lab CA
	// bundle under CAKey, trusted for the Google endpoints. "" mounts none.
	CAConfigMap string
}

// ContainerArgs are the metadata server container's arguments.
func ContainerArgs(o ManifestOptions) []string {
	return []string{"gke-metadata", "serve",
		fmt.Sprintf("--addr=:%d", Port),
		"--node-name=$(NODE_NAME)",
		"--node-ip=$(NODE_IP)",
		"--project-id=" + o.ProjectID,
		"--project-number=" + o.ProjectNumber,
		"--cluster-name=" + o.ClusterName,
		"--cluster-location=" + o.ClusterLocation,
		"--issuer-url=" + o.IssuerURL,
	}
}

// Manifests returns what deploys the metadata server in namespace from
// image, in apply order: its ServiceAccount, a ClusterRole (pods
// get/list/watch, serviceaccounts get, serviceaccounts/token create) and
// binding, and a hostNetwork DaemonSet on every node whose privileged init
// container installs the 169.254.169.254 DNAT on the host.
func Manifests(image, namespace string, opts ManifestOptions) []runtime.Object {
	meta := func(namespaced bool) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: Name, Labels: map[string]string{"app.kubernetes.io/name": Name, "app.kubernetes.io/part-of": "idlab"}}
		if namespaced {
			m.Namespace = namespace
		}
		return m
	}
	selector := map[string]string{"app": Name}
	privileged := true
	noEscalation := false
	readOnlyRoot := true
	env := []corev1.EnvVar{
		{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		{Name: "NODE_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
	}
	var mounts []corev1.VolumeMount
	volumes := []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{
		HostPath: &corev1.HostPathVolumeSource{Path: "/"},
	}}}
	if opts.CAConfigMap != "" {
		env = append(env, corev1.EnvVar{Name: "SSL_CERT_FILE", Value: CADir + "/" + CAKey})
		mounts = append(mounts, corev1.VolumeMount{Name: "lab-ca", MountPath: CADir, ReadOnly: true})
		volumes = append(volumes, corev1.Volume{Name: "lab-ca", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: opts.CAConfigMap}},
		}})
	}

	return []runtime.Object{
		&corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: meta(true),
		},
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
			ObjectMeta: meta(false),
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"get"}},
				{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}},
			},
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
			ObjectMeta: meta(false),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: Name, Namespace: namespace}},
		},
		&appsv1.DaemonSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "DaemonSet"},
			ObjectMeta: meta(true),
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: selector},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: selector},
					Spec: corev1.PodSpec{
						ServiceAccountName: Name,
						HostNetwork:        true,
						// Cluster DNS sends *.googleapis.com to the lab's emulator.
						DNSPolicy:         corev1.DNSClusterFirstWithHostNet,
						PriorityClassName: "system-node-critical",
						Tolerations:       []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
						InitContainers: []corev1.Container{{
							Name:            "install-dnat",
							Image:           image,
							ImagePullPolicy: corev1.PullIfNotPresent,
							Args:            InstallDNATArgs,
							Env:             env[1:2], // NODE_IP
							SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
							VolumeMounts:    []corev1.VolumeMount{{Name: "host", MountPath: HostRoot}},
						}},
						Containers: []corev1.Container{{
							Name:            "metadata-server",
							Image:           image,
							ImagePullPolicy: corev1.PullIfNotPresent,
							Args:            ContainerArgs(opts),
							Env:             env,
							Ports:           []corev1.ContainerPort{{Name: "metadata", ContainerPort: Port, HostPort: Port, Protocol: corev1.ProtocolTCP}},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
								Path: "/", Port: intstr.FromInt32(Port),
								HTTPHeaders: []corev1.HTTPHeader{{Name: "Metadata-Flavor", Value: "Google"}},
							}}},
							VolumeMounts: mounts,
							SecurityContext: &corev1.SecurityContext{
								AllowPrivilegeEscalation: &noEscalation,
								ReadOnlyRootFilesystem:   &readOnlyRoot,
								Capabilities: &corev1.Capabilities{
									Drop: []corev1.Capability{"ALL"},
									Add:  []corev1.Capability{"NET_BIND_SERVICE"},
								},
							},
						}},
						Volumes: volumes,
					},
				},
			},
		},
	}
}
