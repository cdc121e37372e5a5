package eksagent

import (
	"fmt"

	"github.com/idlab/idlab/internal/nodeagent"
	corev1 "k8s.io/api/core/v1"
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
	HostRoot = nodeagent.HostRoot
	CADir    = nodeagent.CADir
	CAKey    = nodeagent.CAKey
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
	env := []corev1.EnvVar{{Name: "AWS_REGION", Value: opts.Region}}
	if opts.CAConfigMap != "" {
		env = append(env, corev1.EnvVar{Name: "SSL_CERT_FILE", Value: nodeagent.CAFile},
			corev1.EnvVar{Name: "AWS_CA_BUNDLE", Value: nodeagent.CAFile})
	}
	grace := int64(30)
	return nodeagent.Agent{
		Name: Name, Namespace: namespace, Image: image, CAConfigMap: opts.CAConfigMap,
		PriorityClassName: "system-node-critical", TerminationGracePeriodSeconds: &grace,
		Init: corev1.Container{Name: Name + "-init", Args: InitArgs},
		Container: corev1.Container{
			Name:  Name,
			Args:  ServerArgs(opts),
			Env:   env,
			Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: Port, Protocol: corev1.ProtocolTCP}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Host: IPv4Address, Path: "/healthz", Port: intstr.FromInt32(Port),
			}}},
		},
		AddCapabilities: []corev1.Capability{"NET_BIND_SERVICE"},
	}.Objects()
}
