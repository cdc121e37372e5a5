package gkemetadata

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// AnnotationGSA on a Kubernetes service account names the Google service
// account its pods act as.
const AnnotationGSA = "iam.gke.io/gcp-service-account"

// caller is who sent a request: a pod on this node with its KSA (and the
// GSA the KSA is annotated with), or the node itself.
type caller struct {
	Node bool
	Pod  *corev1.Pod
	KSA  string // namespace/name of the Kubernetes service account
	GSA  string // "" when the KSA has no iam.gke.io/gcp-service-account
}

// Principal names the caller in logs.
func (c *caller) Principal() string {
	if c.Node {
		return "node"
	}
	return "serviceAccount:" + c.KSA
}

// cacheID keys cached tokens: the pod (by UID, so a new pod reusing the IP
// starts afresh), its KSA and GSA.
func (c *caller) cacheID() string {
	if c.Node {
		return "node"
	}
	return string(c.Pod.UID) + "|" + c.KSA + "|" + c.GSA
}

// identify finds the pod on this node whose IP is ip, as GKE's metadata
// server does from the connection's source address, and its KSA.
// hostNetwork pods and the node's own address are the node.
func (h *Handler) identify(ctx context.Context, ip string) (*caller, *mdError) {
	if ip == "" {
		return nil, &mdError{Status: http.StatusForbidden, Body: "Unable to determine the caller's IP address.\n", Reason: "no caller address"}
	}
	if h.opts.NodeIP != "" && ip == h.opts.NodeIP {
		return &caller{Node: true}, nil
	}
	// A pod's first call can come before the kubelet has reported its IP
	// to the API server; wait for it a little, as a container's first
	// request at start is the common case, not an attack.
	deadline := time.Now().Add(h.opts.PodLookupWait)
	for {
		pod, mdErr := h.findPod(ctx, ip)
		if mdErr != nil || pod != nil || !time.Now().Before(deadline) {
			if pod == nil && mdErr == nil {
				mdErr = &mdError{Status: http.StatusNotFound,
					Body:   fmt.Sprintf("Unable to find a pod with IP address %s on node %s.\n", ip, h.opts.NodeName),
					Reason: "no pod with this IP on the node"}
			}
			if mdErr != nil {
				return nil, mdErr
			}
			return h.callerOf(ctx, pod)
		}
		select {
		case <-ctx.Done():
			return nil, internalError(ctx.Err().Error())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// findPod returns the live pod on this node with IP ip, or nil.
func (h *Handler) findPod(ctx context.Context, ip string) (*corev1.Pod, *mdError) {
	sel := fields.AndSelectors(fields.OneTermEqualSelector("status.podIP", ip),
		fields.OneTermEqualSelector("spec.nodeName", h.opts.NodeName)).String()
	pods, err := h.opts.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, internalError(fmt.Sprintf("list pods with IP %s: %v", ip, err))
	}
	var pod *corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		// Filter again: not every API (nor the fake clientset) applies
		// field selectors.
		if p.Spec.NodeName != h.opts.NodeName || !hasIP(p, ip) ||
			p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
			continue
		}
		if pod == nil || p.Status.Phase == corev1.PodRunning {
			pod = p
		}
	}
	return pod, nil
}

// callerOf names the identity pod acts as: its KSA and the GSA the KSA's
// annotation names, or the node for hostNetwork pods.
func (h *Handler) callerOf(ctx context.Context, pod *corev1.Pod) (*caller, *mdError) {
	if pod.Spec.HostNetwork {
		return &caller{Node: true}, nil
	}
	name := pod.Spec.ServiceAccountName
	if name == "" {
		name = "default"
	}
	sa, err := h.opts.Client.CoreV1().ServiceAccounts(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &mdError{Status: http.StatusNotFound,
				Body:   fmt.Sprintf("Kubernetes service account %s/%s of pod %s/%s not found.\n", pod.Namespace, name, pod.Namespace, pod.Name),
				Reason: "service account not found"}
		}
		return nil, internalError(fmt.Sprintf("get service account %s/%s: %v", pod.Namespace, name, err))
	}
	return &caller{Pod: pod, KSA: pod.Namespace + "/" + name, GSA: sa.Annotations[AnnotationGSA]}, nil
}

func hasIP(p *corev1.Pod, ip string) bool {
	if p.Status.PodIP == ip {
		return true
	}
	for _, a := range p.Status.PodIPs {
		if a.IP == ip {
			return true
		}
	}
	return false
}
