package kube2iam

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

const lookupIP = "10.244.0.7"

func lookupPod(name string, mod ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: name, Annotations: map[string]string{DefaultRoleKey: "kube2iam-app"}},
		Spec: corev1.PodSpec{NodeName: "node-1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: lookupIP}}
	for _, m := range mod {
		m(p)
	}
	return p
}

var lookupNS = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Annotations: map[string]string{DefaultNamespaceKey: `["kube2iam-app"]`}}}

// startProxy starts the proxy's caches over listed (what the API holds when
// they list), then adds late to the API; with blockWatch the caches never
// hear of late, so only the API fallback can find it.
func startProxy(t *testing.T, blockWatch bool, listed, late []runtime.Object) (*Handler, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset(listed...)
	if blockWatch {
		cs.PrependWatchReactor("*", func(k8stesting.Action) (bool, watch.Interface, error) { return true, watch.NewFake(), nil })
	}
	h, err := New(Options{Client: cs, NodeName: "node-1", BaseRoleARN: "arn:aws:iam::123456789012:role/", NamespaceRestriction: true,
		BackoffMaxElapsed: time.Millisecond, RemoteIP: func(*http.Request) string { return lookupIP }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, h.Start(ctx))
	for _, o := range late {
		require.NoError(t, cs.Tracker().Add(o))
	}
	return h, cs
}

// roleName is GET security-credentials/ from the pod at lookupIP, with the
// API calls the request made.
func roleName(h *Handler, cs *fake.Clientset) (int, string, []string) {
	before := len(cs.Actions())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/latest/meta-data/iam/security-credentials/", nil))
	var calls []string
	for _, a := range cs.Actions()[before:] {
		call := a.GetVerb() + " " + a.GetResource().Resource
		if l, ok := a.(k8stesting.ListAction); ok {
			call += " " + l.GetListRestrictions().Fields.String()
		}
		calls = append(calls, call)
	}
	return rec.Code, rec.Body.String(), calls
}

// TestLookupCacheThenAPI: the caller's pod and namespace come from the
// caches, with no API call per request; a pod or namespace the caches have
// not heard of is asked of the API server once per lookup.
func TestLookupCacheThenAPI(t *testing.T) {
	const listPods = "list pods spec.nodeName=node-1,status.podIP=" + lookupIP
	notFound := "pod with specificed IP \"" + lookupIP + "\" not found\n"
	tests := []struct {
		name         string
		listed, late []runtime.Object
		wantCode     int
		wantBody     string
		wantCalls    []string
	}{
		{name: "pod and namespace cached", listed: []runtime.Object{lookupPod("p"), lookupNS}, wantCode: 200, wantBody: "kube2iam-app"},
		{name: "pod not cached yet", listed: []runtime.Object{lookupNS}, late: []runtime.Object{lookupPod("p")},
			wantCode: 200, wantBody: "kube2iam-app", wantCalls: []string{listPods}},
		{name: "namespace not cached yet", listed: []runtime.Object{lookupPod("p")}, late: []runtime.Object{lookupNS},
			wantCode: 200, wantBody: "kube2iam-app", wantCalls: []string{"get namespaces"}},
		{name: "no such pod anywhere", listed: []runtime.Object{lookupNS}, wantCode: 404, wantBody: notFound, wantCalls: []string{listPods}},
		{name: "finished pod is not indexed, nor found by the API", listed: []runtime.Object{lookupNS, lookupPod("p", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded })},
			wantCode: 404, wantBody: notFound, wantCalls: []string{listPods}},
		{name: "failed pod is not indexed, nor found by the API", late: []runtime.Object{lookupNS, lookupPod("p", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed })},
			wantCode: 404, wantBody: notFound, wantCalls: []string{listPods}},
		{name: "pending pod with an IP is indexed", listed: []runtime.Object{lookupNS, lookupPod("p", func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending })},
			wantCode: 200, wantBody: "kube2iam-app"},
		// Upstream indexes a pod until it ends, deleted or not.
		{name: "terminating pod is still indexed", listed: []runtime.Object{lookupNS, lookupPod("p", func(p *corev1.Pod) {
			p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
			p.Finalizers = []string{"test/keep"}
		})}, wantCode: 200, wantBody: "kube2iam-app"},
		{name: "pod on another node", listed: []runtime.Object{lookupNS, lookupPod("p", func(p *corev1.Pod) { p.Spec.NodeName = "node-2" })},
			wantCode: 404, wantBody: notFound, wantCalls: []string{listPods}},
		{name: "two cached pods with the IP (hostNetwork)", listed: []runtime.Object{lookupNS, lookupPod("p"), lookupPod("q")},
			wantCode: 404, wantBody: "2 pods ([p q]) with the ip " + lookupIP + " indexed\n"},
		{name: "two pods found by the API", listed: []runtime.Object{lookupNS}, late: []runtime.Object{lookupPod("p"), lookupPod("q")},
			wantCode: 404, wantBody: "2 pods ([p q]) with the ip " + lookupIP + " indexed\n", wantCalls: []string{listPods}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, cs := startProxy(t, true, tc.listed, tc.late)
			code, body, calls := roleName(h, cs)
			require.Equal(t, tc.wantCode, code, body)
			require.Equal(t, tc.wantBody, body)
			require.Equal(t, tc.wantCalls, calls)
		})
	}
}

// TestLookupFollowsTheWatch: pods created, finished and deleted after the
// first list reach the cache through the watch.
func TestLookupFollowsTheWatch(t *testing.T) {
	h, cs := startProxy(t, false, []runtime.Object{lookupNS}, nil)
	ctx := context.Background()
	cached := func() []string {
		var names []string
		for _, p := range h.cachedPods(lookupIP) {
			names = append(names, p.Name)
		}
		return names
	}
	wait := func(want ...string) {
		t.Helper()
		require.Eventually(t, func() bool { return strings.Join(cached(), ",") == strings.Join(want, ",") }, 10*time.Second, 5*time.Millisecond,
			"cache holds %v, want %v", cached(), want)
	}
	_, err := cs.CoreV1().Pods("a").Create(ctx, lookupPod("p"), metav1.CreateOptions{})
	require.NoError(t, err)
	wait("p")
	code, body, calls := roleName(h, cs)
	require.Equal(t, 200, code, body)
	require.Empty(t, calls, "served from the cache")

	done := lookupPod("p", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded })
	_, err = cs.CoreV1().Pods("a").UpdateStatus(ctx, done, metav1.UpdateOptions{})
	require.NoError(t, err)
	wait()

	_, err = cs.CoreV1().Pods("a").Create(ctx, lookupPod("q"), metav1.CreateOptions{})
	require.NoError(t, err)
	wait("q")
	require.NoError(t, cs.CoreV1().Pods("a").Delete(ctx, "q", metav1.DeleteOptions{}))
	wait()
}

func TestPodIPIndexFunc(t *testing.T) {
	got, err := podIPIndexFunc(lookupPod("p"))
	require.NoError(t, err)
	require.Equal(t, []string{lookupIP}, got)
	got, err = podIPIndexFunc(lookupPod("p", func(p *corev1.Pod) { p.Status.PodIP = "" }))
	require.NoError(t, err)
	require.Empty(t, got, "a pod without an IP yet")
	_, err = podIPIndexFunc(lookupNS)
	require.ErrorContains(t, err, "*v1.Namespace is not a pod")
}

func TestStartStopsWithItsContext(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, context.DeadlineExceeded
	})
	h, err := New(Options{Client: cs})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, h.Start(ctx), context.DeadlineExceeded, "caches that cannot list do not sync")
}

// TestIPReuse is what a pod on a finished pod's IP gets (issue 19 item 15,
// jtblin/kube2iam#215: pods deleted and recreated quickly got a role their
// annotation did not name, closed with neither fix nor root cause; PR #95
// and #92 on finished pods' IPs, #244 on two pods of one IP in the cache).
// Upstream at 4c4a2b4 indexes only active pods (pod.go isPodActive: an IP,
// neither Succeeded nor Failed) and answers from the index alone
// (k8s/k8s.go PodByIP), as the proxy here does when the cache has the IP.
// Once the watch has brought the first pod's end, the new pod gets its own
// role; while both are active in the cache it is refused; but while the
// cache has not yet heard of either change, the new pod is served the
// finished pod's role: the window is upstream's, and the proxy keeps it
// (it asks the API server only when the cache has no pod). The first case
// is also a matrix row (scenarios/kube2iam ipreuse_test.go, the lab
// steering the node's host-local IPAM to hand out the IP again); the last
// is not: the lab cannot hold kube2iam's watch back.
func TestIPReuse(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Annotations: map[string]string{DefaultNamespaceKey: `["kube2iam-*"]`}}}
	old := func(ph corev1.PodPhase) *corev1.Pod {
		return lookupPod("old", func(p *corev1.Pod) { p.Annotations[DefaultRoleKey] = "kube2iam-other"; p.Status.Phase = ph })
	}
	tests := []struct {
		name string
		// cached is what the proxy's caches listed; api what the API
		// server holds afterwards, which the blocked watch never brings.
		cached, api []runtime.Object
		wantCode    int
		wantBody    string
	}{
		{name: "the cache has the old pod's end and the new pod: its own role",
			cached: []runtime.Object{ns, old(corev1.PodSucceeded), lookupPod("new")}, wantCode: 200, wantBody: "kube2iam-app"},
		{name: "the cache has the old pod's end, not the new pod: the API's answer, its own role",
			cached: []runtime.Object{ns, old(corev1.PodFailed)}, api: []runtime.Object{lookupPod("new")}, wantCode: 200, wantBody: "kube2iam-app"},
		{name: "the cache has both active: refused",
			cached: []runtime.Object{ns, old(corev1.PodRunning), lookupPod("new")}, wantCode: 404, wantBody: "2 pods ([new old]) with the ip " + lookupIP + " indexed\n"},
		{name: "the cache has neither change: the finished pod's role, as upstream",
			cached: []runtime.Object{ns, old(corev1.PodRunning)}, api: []runtime.Object{lookupPod("new")}, wantCode: 200, wantBody: "kube2iam-other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, cs := startProxy(t, true, tc.cached, nil)
			for _, o := range tc.api {
				require.NoError(t, cs.Tracker().Add(o))
			}
			if len(tc.api) > 0 {
				// The API server has the old pod's end too.
				require.NoError(t, cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), old(corev1.PodSucceeded), "a"))
			}
			code, body, _ := roleName(h, cs)
			require.Equal(t, tc.wantCode, code, body)
			require.Equal(t, tc.wantBody, body)
		})
	}
}
