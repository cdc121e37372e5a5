package gkemetadata

import (
	"fmt"

	"github.com/idlab/idlab/internal/nodeagent"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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
	HostRoot = nodeagent.HostRoot
	CADir    = nodeagent.CADir
	CAKey    = nodeagent.CAKey
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
// image, in apply order: its ServiceAccount, a ClusterRole (pods and
// serviceaccounts get/list/watch, serviceaccounts/token create) and
// binding, and a hostNetwork DaemonSet on every node whose privileged init
// container installs the 169.254.169.254 DNAT on the host.
func Manifests(image, namespace string, opts ManifestOptions) []runtime.Object {
	env := []corev1.EnvVar{
		{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		{Name: "NODE_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
	}
	if opts.CAConfigMap != "" {
		env = append(env, corev1.EnvVar{Name: "SSL_CERT_FILE", Value: nodeagent.CAFile})
	}
	return nodeagent.Agent{
		Name: Name, Namespace: namespace, Image: image, CAConfigMap: opts.CAConfigMap,
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}},
			// The node's pod ranges (Handler.Start): a caller outside them is
			// no pod of this node.
			{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}},
		},
		PriorityClassName: "system-node-critical",
		Init:              corev1.Container{Name: "install-dnat", Args: InstallDNATArgs, Env: env[1:2]}, // NODE_IP
		Container: corev1.Container{
			Name:  "metadata-server",
			Args:  ContainerArgs(opts),
			Env:   env,
			Ports: []corev1.ContainerPort{{Name: "metadata", ContainerPort: Port, HostPort: Port, Protocol: corev1.ProtocolTCP}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/", Port: intstr.FromInt32(Port),
				HTTPHeaders: []corev1.HTTPHeader{{Name: "Metadata-Flavor", Value: "Google"}},
			}}},
		},
		AddCapabilities: []corev1.Capability{"NET_BIND_SERVICE"},
	}.Objects()
}
