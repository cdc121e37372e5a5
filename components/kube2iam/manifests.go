package kube2iam

import (
	"fmt"

	"github.com/idlab/idlab/internal/nodeagent"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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
	HostRoot = nodeagent.HostRoot
	CADir    = nodeagent.CADir
	CAKey    = nodeagent.CAKey
)

// ManifestOptions are the deployment's settings, upstream's flags.
type ManifestOptions struct {
	HostInterface        string // --host-interface: the pods' host interfaces (cni0, veth+, !eth0; DNATRule)
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
	env := []corev1.EnvVar{
		{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
		{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
	}
	if o.Region != "" {
		env = append(env, corev1.EnvVar{Name: "AWS_REGION", Value: o.Region})
	}
	if o.CAConfigMap != "" {
		env = append(env, corev1.EnvVar{Name: "SSL_CERT_FILE", Value: nodeagent.CAFile})
	}
	return nodeagent.Agent{
		Name: Name, Namespace: namespace, Image: image, CAConfigMap: o.CAConfigMap,
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"get", "list", "watch"}}},
		Init:  corev1.Container{Name: "iptables", Args: IPTablesArgs(o), Env: env[:1]},
		Container: corev1.Container{
			Name: Name, Args: Args(o), Env: env,
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: DefaultAppPort, HostPort: DefaultAppPort, Protocol: corev1.ProtocolTCP}},
			// Probed every second rather than every 10: a restarted proxy
			// (the kube2iam suite restarts it for an empty session cache)
			// is seen ready as soon as it listens.
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(DefaultAppPort)}},
				PeriodSeconds: 1},
		},
	}.Objects()
}
