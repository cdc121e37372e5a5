package gkemetadata

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// podIPIndex names the pod informer's index by IP.
const podIPIndex = "byPodIP"

// apiCache is the server's view of the API server, kept by shared
// informers so that a request for a known pod asks the API nothing: the
// pods of this node that have not ended, indexed by IP, and every
// ServiceAccount. Requests from an IP it does not know wait for the pod
// informer's events (await), not on a timer.
type apiCache struct {
	pods, sas cache.SharedIndexInformer

	syncOnce sync.Once
	synced   chan struct{} // closed once both informers have listed

	mu      sync.Mutex
	waiters map[string][]chan struct{} // by IP; closed when a pod with that IP is added or updated

	// podCIDRs are the node's pod ranges (spec.podCIDRs), read by Start;
	// none when the node has none or could not be read.
	podCIDRs []netip.Prefix
}

func newAPICache(client kubernetes.Interface, nodeName string) (*apiCache, error) {
	// The API server drops ended pods from the watch (a DELETED event once a
	// pod turns Succeeded or Failed); podIPIndexFunc and currentPod check
	// again, as not every API server (nor the fake clientset) applies field
	// selectors.
	sel := fields.AndSelectors(
		fields.OneTermEqualSelector("spec.nodeName", nodeName),
		fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)),
		fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed)),
	).String()
	c := &apiCache{
		pods: coreinformers.NewFilteredPodInformer(client, metav1.NamespaceAll, 0, cache.Indexers{podIPIndex: podIPIndexFunc},
			func(o *metav1.ListOptions) { o.FieldSelector = sel }),
		sas:     coreinformers.NewServiceAccountInformer(client, metav1.NamespaceAll, 0, cache.Indexers{}),
		synced:  make(chan struct{}),
		waiters: map[string][]chan struct{}{},
	}
	if err := c.pods.SetTransform(trimPod); err != nil {
		return nil, fmt.Errorf("pod informer transform: %w", err)
	}
	if err := c.sas.SetTransform(trimServiceAccount); err != nil {
		return nil, fmt.Errorf("service account informer transform: %w", err)
	}
	wake := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			c.notify(podIPs(p))
		}
	}
	if _, err := c.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    wake,
		UpdateFunc: func(_, obj any) { wake(obj) },
	}); err != nil {
		return nil, fmt.Errorf("pod informer handler: %w", err)
	}
	return c, nil
}

// Start runs the pod and ServiceAccount informers until ctx ends and
// waits for their first list. Token and account requests wait for it (up
// to Options.PodLookupWait, then 500); `idlab gke-metadata serve` calls it
// before it listens, so a ready server knows the node's pods.
func (h *Handler) Start(ctx context.Context) error {
	c := h.api
	c.podCIDRs = nodePodCIDRs(ctx, h.opts.Client, h.opts.NodeName)
	go c.pods.RunWithContext(ctx)
	go c.sas.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), c.pods.HasSynced, c.sas.HasSynced) {
		return fmt.Errorf("gkemetadata: pod and service account caches did not sync: %w", context.Cause(ctx))
	}
	c.syncOnce.Do(func() { close(c.synced) })
	return nil
}

// hasSynced reports whether Start has seen both informers list.
func (c *apiCache) hasSynced() bool {
	select {
	case <-c.synced:
		return true
	default:
		return false
	}
}

// podIPIndexFunc indexes a pod that may be a caller under each of its IPs:
// one with an IP that has not ended (Succeeded, Failed) and is not being
// deleted.
func podIPIndexFunc(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("gkemetadata: pod index: %T is not a pod", obj)
	}
	if ended(p) {
		return nil, nil
	}
	return podIPs(p), nil
}

// ended reports whether p can no longer call: it ran to its end or is
// being deleted (the old pod of a reused IP is one or the other).
func ended(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil
}

// podIPs are p's addresses: status.podIP and status.podIPs, each once.
func podIPs(p *corev1.Pod) []string {
	var ips []string
	add := func(ip string) {
		for _, have := range ips {
			if have == ip {
				return
			}
		}
		if ip != "" {
			ips = append(ips, ip)
		}
	}
	add(p.Status.PodIP)
	for _, a := range p.Status.PodIPs {
		add(a.IP)
	}
	return ips
}

// currentPod is the pod on node that holds ip now, or nil. A pod that has
// ended or is being deleted never does, so an IP given to a new pod is
// that pod's. Of two live pods with one IP (a transition the watch has
// not finished), a Running pod is preferred, as the lab's lookup did
// before the cache; then the newer one (it got the address last); then
// namespace/name, so the answer never depends on the cache's order.
func currentPod(pods []*corev1.Pod, ip, node string) *corev1.Pod {
	var best *corev1.Pod
	for _, p := range pods {
		if p.Spec.NodeName != node || ended(p) || !hasIP(p, ip) {
			continue
		}
		if best == nil || preferred(p, best) {
			best = p
		}
	}
	return best
}

// preferred reports whether p rather than q holds their shared IP.
func preferred(p, q *corev1.Pod) bool {
	if pr, qr := p.Status.Phase == corev1.PodRunning, q.Status.Phase == corev1.PodRunning; pr != qr {
		return pr
	}
	if !p.CreationTimestamp.Equal(&q.CreationTimestamp) {
		return q.CreationTimestamp.Before(&p.CreationTimestamp)
	}
	return p.Namespace+"/"+p.Name < q.Namespace+"/"+q.Name
}

func hasIP(p *corev1.Pod, ip string) bool {
	for _, a := range podIPs(p) {
		if a == ip {
			return true
		}
	}
	return false
}

// pod is the cached pod on node holding ip, or nil.
func (c *apiCache) pod(ip, node string) *corev1.Pod {
	objs, err := c.pods.GetIndexer().ByIndex(podIPIndex, ip)
	if err != nil {
		return nil
	}
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	return currentPod(pods, ip, node)
}

// serviceAccount is the cached ServiceAccount namespace/name, if any.
func (c *apiCache) serviceAccount(namespace, name string) (*corev1.ServiceAccount, bool) {
	obj, ok, err := c.sas.GetIndexer().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return nil, false
	}
	sa, ok := obj.(*corev1.ServiceAccount)
	return sa, ok
}

// await returns a channel closed when the pod informer next adds or
// updates a pod with ip, and the function that gives up waiting. Register
// before looking in the cache, so an event between the two is not lost.
func (c *apiCache) await(ip string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	c.mu.Lock()
	c.waiters[ip] = append(c.waiters[ip], ch)
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		w := c.waiters[ip]
		for i, x := range w {
			if x == ch {
				w = append(w[:i], w[i+1:]...)
				break
			}
		}
		if len(w) == 0 {
			delete(c.waiters, ip)
			return
		}
		c.waiters[ip] = w
	}
}

// notify wakes the requests waiting for any of ips.
func (c *apiCache) notify(ips []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ip := range ips {
		for _, ch := range c.waiters[ip] {
			close(ch)
		}
		delete(c.waiters, ip)
	}
}

// waiting is how many requests wait for a pod with ip (tests).
func (c *apiCache) waiting(ip string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters[ip])
}

// trimPod keeps of a pod what the server reads (who it is, where it runs,
// as whom, its phase and IPs), so a node's cache stays small.
func trimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			CreationTimestamp: p.CreationTimestamp, DeletionTimestamp: p.DeletionTimestamp},
		Spec:   corev1.PodSpec{NodeName: p.Spec.NodeName, ServiceAccountName: p.Spec.ServiceAccountName, HostNetwork: p.Spec.HostNetwork},
		Status: corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP, PodIPs: p.Status.PodIPs},
	}, nil
}

// trimServiceAccount keeps of a ServiceAccount its name and the
// AnnotationGSA annotation: the informer holds every one in the cluster.
func trimServiceAccount(obj any) (any, error) {
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return obj, nil
	}
	out := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa.Name, Namespace: sa.Namespace, UID: sa.UID, ResourceVersion: sa.ResourceVersion}}
	if gsa, ok := sa.Annotations[AnnotationGSA]; ok {
		out.Annotations = map[string]string{AnnotationGSA: gsa}
	}
	return out, nil
}

// nodePodCIDRs are the pod ranges of node name, or none when it cannot be
// read: then every unknown caller waits for its pod (waitPod), as before.
func nodePodCIDRs(ctx context.Context, client kubernetes.Interface, name string) []netip.Prefix {
	n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		slog.WarnContext(ctx, "gkemetadata: node pod ranges unknown; callers outside them wait for a pod too", "node", name, "err", err)
		return nil
	}
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	var out []netip.Prefix
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// outsidePods reports whether ip can be no pod of this node: the node's
// pod ranges are known and ip is in none of them (hostNetwork pods use the
// node's address, which identify handles first).
func (c *apiCache) outsidePods(ip string) bool {
	if len(c.podCIDRs) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return true
	}
	a = a.Unmap()
	for _, p := range c.podCIDRs {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
