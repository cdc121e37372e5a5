package azurewebhook

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// wantsProxy: the inject-proxy-sidecar annotation is present, whatever its
// value, as upstream's shouldInjectProxySidecar.
func wantsProxy(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[InjectProxySidecarAnnotation]
	return ok
}

// proxyPort is the proxy-sidecar-port annotation, DefaultProxySidecarPort
// without it. Any 32-bit integer passes, as upstream; the API server
// refuses ports outside 1..65535 later.
func proxyPort(pod *corev1.Pod) (int32, error) {
	raw, ok := pod.Annotations[ProxySidecarPortAnnotation]
	if !ok {
		return DefaultProxySidecarPort, nil
	}
	n, err := strconv.ParseInt(raw, 10, 32)
	if err != nil {
		return 0, &refusal{ErrInvalidProxyPort, "failed to parse proxy sidecar port: " + err.Error()}
	}
	return int32(n), nil
}

// injectProxy adds upstream's proxy init container (last among the init
// containers) and proxy sidecar (first among the containers, or with a
// native sidecar first among the init containers), each unless a container
// of its name is already in that list. A hostNetwork pod is refused: the
// init container's iptables rules would redirect the node's own traffic.
func injectProxy(pod *corev1.Pod, opts Options) error {
	if pod.Spec.HostNetwork {
		return &refusal{ErrProxyOnHostNetwork, "hostNetwork is set to true, cannot inject proxy sidecar"}
	}
	port, err := proxyPort(pod)
	if err != nil {
		return err
	}
	pod.Spec.InitContainers = appendProxyInit(pod.Spec.InitContainers, port, opts.ProxyInitImage)
	native := opts.NativeSidecar != nil && *opts.NativeSidecar
	if native {
		pod.Spec.InitContainers = prependProxySidecar(pod.Spec.InitContainers, port, opts, ptr.To(corev1.ContainerRestartPolicyAlways))
	} else {
		pod.Spec.Containers = prependProxySidecar(pod.Spec.Containers, port, opts, nil)
	}
	return nil
}

func hasContainer(cs []corev1.Container, name string) bool {
	for _, c := range cs {
		if c.Name == name {
			return true
		}
	}
	return false
}

// appendProxyInit appends the privileged init container that redirects the
// pod's metadata traffic to the proxy.
func appendProxyInit(cs []corev1.Container, port int32, image string) []corev1.Container {
	if hasContainer(cs, ProxyInitContainerName) {
		return cs
	}
	return append(cs, corev1.Container{
		Name:            ProxyInitContainerName,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		SecurityContext: &corev1.SecurityContext{
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}},
			Privileged:   ptr.To(true),
			RunAsNonRoot: ptr.To(false),
			RunAsUser:    ptr.To[int64](0),
		},
		Env: []corev1.EnvVar{{Name: ProxyPortEnv, Value: strconv.FormatInt(int64(port), 10)}},
	})
}

// prependProxySidecar puts the proxy first in cs, probed after start.
func prependProxySidecar(cs []corev1.Container, port int32, opts Options, restart *corev1.ContainerRestartPolicy) []corev1.Container {
	if hasContainer(cs, ProxySidecarContainerName) {
		return cs
	}
	portArg, levelArg := fmt.Sprintf("--proxy-port=%d", port), "--log-level="+opts.ProxyLogLevel
	return append([]corev1.Container{{
		Name:            ProxySidecarContainerName,
		Image:           opts.ProxyImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            []string{portArg, levelArg},
		Ports:           []corev1.ContainerPort{{ContainerPort: port}},
		Lifecycle: &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
			Command: []string{"/proxy", portArg, "--probe", levelArg},
		}}},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			Privileged:               ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			RunAsNonRoot:             ptr.To(true),
		},
		RestartPolicy: restart,
	}}, cs...)
}
