package eksagent

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Name is the DaemonSet and ServiceAccount name, as the EKS add-on's.
const Name = "eks-pod-identity-agent"

// The in-cluster contract between Manifests and the command that runs the
// agent: the init container gets InitArgs and calls SetupLink with the
// host's / at HostRoot; the agent container gets ServerArgs(opts), serves
// /v1/credentials on IPv4Address:Port (hostNetwork) and /healthz for the
// readiness probe. With ManifestOptions.CAConfigMap the lab CA bundle (key
// CAKey) is mounted at CADir and SSL_CERT_FILE and AWS_CA_BUNDLE point at it.
const (
	HostRoot = "/host"
	CADir    = "/etc/idlab/ca"
	CAKey    = "ca.crt"
)

// InitArgs are the init container's arguments.
var InitArgs = []string{"eks-pod-identity-agent", "initialize", "--host-root=" + HostRoot}

// ManifestOptions are the cluster facts the agent is started with.
type ManifestOptions struct {
	ClusterName string
	Region      string
	// CAConfigMap names a ConfigMap in the namespace holding the lab CA
	// bundle under CAKey. "" mounts none.
	CAConfigMap string
}

// ServerArgs are the agent container's arguments (upstream's server flags).
func ServerArgs(o ManifestOptions) []string {
	return []string{"eks-pod-identity-agent", "server",
		"--cluster-name=" + o.ClusterName,
		"--region=" + o.Region,
		"--bind-hosts=" + IPv4Address,
		fmt.Sprintf("--port=%d", Port),
	}
}

// Manifests returns what deploys the agent in namespace from image, in
// apply order: its ServiceAccount and a hostNetwork DaemonSet on every node
// whose privileged init container adds the agent's link. The agent needs
// no Kubernetes API access: its credentials are the node's.
func Manifests(image, namespace string, opts ManifestOptions) []runtime.Object {
	labels := map[string]string{"app.kubernetes.io/name": Name, "app.kubernetes.io/part-of": "idlab"}
	selector := map[string]string{"app": Name}
	privileged := true
	noEscalation := false
	readOnlyRoot := true
	env := []corev1.EnvVar{{Name: "AWS_REGION", Value: opts.Region}}
	var mounts []corev1.VolumeMount
	volumes := []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
	if opts.CAConfigMap != "" {
		env = append(env, corev1.EnvVar{Name: "SSL_CERT_FILE", Value: CADir + "/" + CAKey},
			corev1.EnvVar{Name: "AWS_CA_BUNDLE", Value: CADir + "/" + CAKey})
		mounts = append(mounts, corev1.VolumeMount{Name: "lab-ca", MountPath: CADir, ReadOnly: true})
		volumes = append(volumes, corev1.Volume{Name: "lab-ca", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: opts.CAConfigMap}},
		}})
	}
	return []runtime.Object{
		&corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: namespace, Labels: labels},
		},
		&appsv1.DaemonSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "DaemonSet"},
			ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: namespace, Labels: labels},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: selector},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: selector},
					Spec: corev1.PodSpec{
						ServiceAccountName: Name,
						HostNetwork:        true,
						// Cluster DNS sends eks-auth.REGION.api.aws to the lab's emulator.
						DNSPolicy:                     corev1.DNSClusterFirstWithHostNet,
						PriorityClassName:             "system-node-critical",
						TerminationGracePeriodSeconds: ptr(int64(30)),
						Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
						InitContainers: []corev1.Container{{
							Name:            Name + "-init",
							Image:           image,
							ImagePullPolicy: corev1.PullIfNotPresent,
							Args:            InitArgs,
							SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
							VolumeMounts:    []corev1.VolumeMount{{Name: "host", MountPath: HostRoot}},
						}},
						Containers: []corev1.Container{{
							Name:            Name,
							Image:           image,
							ImagePullPolicy: corev1.PullIfNotPresent,
							Args:            ServerArgs(opts),
							Env:             env,
							Ports:           []corev1.ContainerPort{{Name: "proxy", ContainerPort: Port, Protocol: corev1.ProtocolTCP}},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
								Host: IPv4Address, Path: "/healthz", Port: intstr.FromInt32(Port),
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

func ptr[T any](v T) *T { return &v }
