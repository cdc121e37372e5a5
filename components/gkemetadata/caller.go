package gkemetadata

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
// server does from the connection's source address, and its KSA, from the
// informers' caches. hostNetwork pods and the node's own address are the
// node.
func (h *Handler) identify(ctx context.Context, ip string) (*caller, *mdError) {
	if ip == "" {
		return nil, &mdError{Status: http.StatusForbidden, Body: "Unable to determine the caller's IP address.\n", Reason: "no caller address"}
	}
	if h.opts.NodeIP != "" && ip == h.opts.NodeIP {
		return &caller{Node: true}, nil
	}
	if h.api.outsidePods(ip) {
		// Another node's address or any other host (a request routed here
		// from elsewhere): no pod of this node will ever have it, so there
		// is nothing to wait for.
		return nil, noPodWithIP(ip, h.opts.NodeName)
	}
	pod, mdErr := h.waitPod(ctx, ip)
	if mdErr != nil {
		return nil, mdErr
	}
	return h.callerOf(ctx, pod)
}

// waitPod is the pod holding ip, from the cache. A pod's first call can
// come before the kubelet has reported its IP to the API server (a
// container's first request at start is the common case, not an attack),
// so an unknown IP waits up to Options.PodLookupWait for the pod
// informer to bring a pod with it; then 404.
func (h *Handler) waitPod(ctx context.Context, ip string) (*corev1.Pod, *mdError) {
	timeout := time.NewTimer(h.opts.PodLookupWait)
	defer timeout.Stop()
	if !h.api.hasSynced() {
		select {
		case <-h.api.synced:
		case <-ctx.Done():
			return nil, internalError(ctx.Err().Error())
		case <-timeout.C:
			return nil, internalError("the pod cache has not synced (Handler.Start)")
		}
	}
	for {
		wake, stop := h.api.await(ip)
		if pod := h.api.pod(ip, h.opts.NodeName); pod != nil {
			stop()
			return pod, nil
		}
		select {
		case <-wake: // a pod with ip was added or updated: look again
		case <-ctx.Done():
			stop()
			return nil, internalError(ctx.Err().Error())
		case <-timeout.C:
			stop()
			return nil, noPodWithIP(ip, h.opts.NodeName)
		}
	}
}

// callerOf names the identity pod acts as: its KSA and the GSA the KSA's
// annotation names, or the node for hostNetwork pods. The KSA comes from
// the cache; one the watch has not brought yet (created just before its
// pod, as scenarios/storm does) is read from the API server.
func (h *Handler) callerOf(ctx context.Context, pod *corev1.Pod) (*caller, *mdError) {
	if pod.Spec.HostNetwork {
		return &caller{Node: true}, nil
	}
	name := pod.Spec.ServiceAccountName
	if name == "" {
		name = "default"
	}
	sa, ok := h.api.serviceAccount(pod.Namespace, name)
	if !ok {
		var err error
		sa, err = h.opts.Client.CoreV1().ServiceAccounts(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil, &mdError{Status: http.StatusNotFound,
					Body:   fmt.Sprintf("Kubernetes service account %s/%s of pod %s/%s not found.\n", pod.Namespace, name, pod.Namespace, pod.Name),
					Reason: "service account not found"}
			}
			return nil, internalError(fmt.Sprintf("get service account %s/%s: %v", pod.Namespace, name, err))
		}
	}
	return &caller{Pod: pod, KSA: pod.Namespace + "/" + name, GSA: sa.Annotations[AnnotationGSA]}, nil
}

// noPodWithIP is the answer to a caller no pod of the node has the address of.
func noPodWithIP(ip, node string) *mdError {
	return &mdError{Status: http.StatusNotFound,
		Body:   fmt.Sprintf("Unable to find a pod with IP address %s on node %s.\n", ip, node),
		Reason: "no pod with this IP on the node"}
}
