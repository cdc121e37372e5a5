package kube2iam

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// podIPIndex names the pod informer's index by IP.
const podIPIndex = "byPodIP"

// informers are the proxy's caches, as upstream keeps them (jtblin/kube2iam
// k8s/k8s.go at 4c4a2b4, WatchForPods and WatchForNamespaces): the pods of
// the node (--node) indexed by IP, and every namespace by name.
type informers struct {
	pods, namespaces cache.SharedIndexInformer
}

func newInformers(client kubernetes.Interface, nodeName string) informers {
	onNode := func(o *metav1.ListOptions) {
		if nodeName != "" {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
		}
	}
	return informers{
		pods:       coreinformers.NewFilteredPodInformer(client, metav1.NamespaceAll, 0, cache.Indexers{podIPIndex: podIPIndexFunc}, onNode),
		namespaces: coreinformers.NewNamespaceInformer(client, 0, cache.Indexers{}),
	}
}

// podIPIndexFunc indexes an active pod under its IP, as upstream's
// PodIPIndexFunc (pod.go at 4c4a2b4).
func podIPIndexFunc(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("kube2iam: pod index: %T is not a pod", obj)
	}
	if !active(p) {
		return nil, nil
	}
	return []string{p.Status.PodIP}, nil
}

// active is upstream's isPodActive: the pod has an IP and has not ended
// (Pending, Running or Unknown; a pod being deleted stays until it ends).
func active(p *corev1.Pod) bool {
	return p.Status.PodIP != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// Start fills the caches (a list, then a watch, until ctx ends) and waits
// for their first list. Without Start, or on a cache miss, the proxy asks
// the API server for the pod and namespace of every request.
func (h *Handler) Start(ctx context.Context) error {
	go h.cache.pods.Run(ctx.Done())
	go h.cache.namespaces.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), h.cache.pods.HasSynced, h.cache.namespaces.HasSynced) {
		return fmt.Errorf("kube2iam: pod and namespace caches did not sync: %w", ctx.Err())
	}
	return nil
}

// cachedPods are the active pods the cache holds with IP ip.
func (h *Handler) cachedPods(ip string) []*corev1.Pod {
	objs, err := h.cache.pods.GetIndexer().ByIndex(podIPIndex, ip)
	if err != nil {
		return nil
	}
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	return pods
}

// livePods lists the pods with IP ip from the API server: the fallback on a
// cache miss (a pod the watch has not delivered yet).
func (h *Handler) livePods(ctx context.Context, ip string) ([]*corev1.Pod, error) {
	sel := []fields.Selector{fields.OneTermEqualSelector("status.podIP", ip)}
	if h.opts.NodeName != "" {
		sel = append(sel, fields.OneTermEqualSelector("spec.nodeName", h.opts.NodeName))
	}
	list, err := h.opts.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: fields.AndSelectors(sel...).String()})
	if err != nil {
		return nil, fmt.Errorf("list pods with IP %s: %w", ip, err)
	}
	pods := make([]*corev1.Pod, 0, len(list.Items))
	for i := range list.Items {
		pods = append(pods, &list.Items[i])
	}
	return pods, nil
}

// namespace is the namespace named name, from the cache or else the API
// server; nil when it does not exist.
func (h *Handler) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	if obj, ok, err := h.cache.namespaces.GetIndexer().GetByKey(name); err == nil && ok {
		if ns, ok := obj.(*corev1.Namespace); ok {
			return ns, nil
		}
	}
	ns, err := h.opts.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get namespace %s: %w", name, err)
	}
	return ns, nil
}
