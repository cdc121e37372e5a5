package irsawebhook

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"
)

func roleSA(ns, name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Namespace:   ns,
		Name:        name,
		Annotations: map[string]string{AnnotationRoleARN: "arn:aws:iam::111122223333:role/late"},
	}}
}

func appPod(ns, sa string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns},
		Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			Containers:         []corev1.Container{{Name: "app", Image: "amazonlinux"}},
		},
	}
}

// hideFromWatch makes the cache's list and watch see no ServiceAccounts, as
// when a ServiceAccount is created after the list and its watch event has
// not arrived. It returns the watcher so a test can deliver events itself.
func hideFromWatch(t *testing.T, client *fake.Clientset) *watch.FakeWatcher {
	t.Helper()
	w := watch.NewFakeWithChanSize(10, false)
	client.PrependReactor("list", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &corev1.ServiceAccountList{}, nil
	})
	client.PrependWatchReactor("serviceaccounts", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, w, nil
	})
	return w
}

func countGets(client *fake.Clientset) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "serviceaccounts" {
			n++
		}
	}
	return n
}

func TestLookupMissingFromCache(t *testing.T) {
	tests := []struct {
		name string
		// setup hides the ServiceAccount from the watch and arranges how it
		// appears; the returned func runs once the request is in flight.
		setup     func(t *testing.T, client *fake.Clientset, g gatedClient) func()
		timeout   time.Duration
		wantPatch bool
		wantLog   string
	}{
		{
			name: "created after sync, found by API GET",
			setup: func(t *testing.T, client *fake.Clientset, g gatedClient) func() {
				hideFromWatch(t, client)
				require.NoError(t, client.Tracker().Add(roleSA("apps", "late")))
				close(g.gate)
				return nil
			},
			timeout:   time.Second,
			wantPatch: true,
			wantLog:   `"decision":"mutated"`,
		},
		{
			name: "watch delivers it while the GET hangs",
			setup: func(t *testing.T, client *fake.Clientset, g gatedClient) func() {
				w := hideFromWatch(t, client)
				return func() {
					time.Sleep(20 * time.Millisecond)
					w.Add(roleSA("apps", "late"))
				}
			},
			timeout:   5 * time.Second,
			wantPatch: true,
			wantLog:   `"decision":"mutated"`,
		},
		{
			name: "GET hangs past the lookup timeout",
			setup: func(t *testing.T, client *fake.Clientset, g gatedClient) func() {
				hideFromWatch(t, client)
				return nil
			},
			timeout: 50 * time.Millisecond,
			wantLog: "service account lookup timed out",
		},
		{
			name: "does not exist",
			setup: func(t *testing.T, client *fake.Clientset, g gatedClient) func() {
				hideFromWatch(t, client)
				close(g.gate)
				return nil
			},
			timeout: time.Second,
			wantLog: "no role-arn annotation, or does not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			g := newGatedClient(client)
			after := tt.setup(t, client, g)
			var logs logBuffer
			h, _ := newTestHandler(t, Options{Client: g, LookupTimeout: tt.timeout, Logger: newTestLogger(&logs)})
			if after != nil {
				go after()
			}
			start := time.Now()
			resp := h.Mutate(t.Context(), podRequest(t, "u1", "apps", appPod("apps", "late")))
			require.Less(t, time.Since(start), tt.timeout+time.Second, "lookup not bounded")
			require.True(t, resp.Allowed)
			require.Equal(t, tt.wantPatch, resp.Patch != nil, "patch: %s", resp.Patch)
			require.Contains(t, logs.String(), tt.wantLog)
			require.EqualValues(t, 1, g.gets.Load(), "one API GET")
		})
	}
}

// gatedClient makes ServiceAccount GETs wait for gate (or their context)
// before reaching the fake clientset, and counts them. (A blocking reactor
// would hold the fake's lock and stall the watch too.)
type gatedClient struct {
	kubernetes.Interface
	gate chan struct{}
	gets *atomic.Int32
}

func newGatedClient(client *fake.Clientset) gatedClient {
	return gatedClient{Interface: client, gate: make(chan struct{}), gets: new(atomic.Int32)}
}

func (c gatedClient) CoreV1() typedcorev1.CoreV1Interface {
	return gatedCore{CoreV1Interface: c.Interface.CoreV1(), c: c}
}

type gatedCore struct {
	typedcorev1.CoreV1Interface
	c gatedClient
}

func (g gatedCore) ServiceAccounts(ns string) typedcorev1.ServiceAccountInterface {
	return gatedSAs{ServiceAccountInterface: g.CoreV1Interface.ServiceAccounts(ns), c: g.c}
}

type gatedSAs struct {
	typedcorev1.ServiceAccountInterface
	c gatedClient
}

func (s gatedSAs) Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.ServiceAccount, error) {
	s.c.gets.Add(1)
	select {
	case <-s.c.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.ServiceAccountInterface.Get(ctx, name, opts)
}

func TestLookupDeduplicatesGets(t *testing.T) {
	client := fake.NewClientset()
	hideFromWatch(t, client)
	require.NoError(t, client.Tracker().Add(roleSA("apps", "late")))
	g := newGatedClient(client)
	h, _ := newTestHandler(t, Options{Client: g, LookupTimeout: 5 * time.Second})

	const n = 8
	var wg sync.WaitGroup
	found := make([]bool, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := h.cache.lookup(t.Context(), "apps", "late")
			found[i] = ok && err == nil
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(g.gate)
	wg.Wait()
	require.Equal(t, []bool{true, true, true, true, true, true, true, true}, found)
	require.EqualValues(t, 1, g.gets.Load())

	// Now cached: no more GETs.
	_, ok, err := h.cache.lookup(t.Context(), "apps", "late")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 1, g.gets.Load())
}

func TestCacheFollowsWatch(t *testing.T) {
	h, client := newTestHandler(t, Options{})
	sas := client.CoreV1().ServiceAccounts("apps")
	cached := func() (serviceAccountConfig, bool) {
		h.cache.mu.Lock()
		defer h.cache.mu.Unlock()
		c, ok := h.cache.entries["apps/app"]
		return c, ok
	}

	// The fake's watch does not replay from a resourceVersion: wait for it.
	require.Eventually(t, func() bool {
		for _, a := range client.Actions() {
			if a.GetVerb() == "watch" {
				return true
			}
		}
		return false
	}, 5*time.Second, time.Millisecond)

	_, err := sas.Create(t.Context(), roleSA("apps", "app"), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { c, ok := cached(); return ok && c.RoleARN != "" }, 5*time.Second, 5*time.Millisecond)

	sa := roleSA("apps", "app")
	sa.Annotations[AnnotationAudience] = "other"
	_, err = sas.Update(t.Context(), sa, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { c, _ := cached(); return c.Audience == "other" }, 5*time.Second, 5*time.Millisecond)

	require.NoError(t, sas.Delete(t.Context(), "app", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { _, ok := cached(); return !ok }, 5*time.Second, 5*time.Millisecond)
	require.Zero(t, countGets(client), "watched ServiceAccounts need no GET")
}

func TestCacheRelistsAfterWatchError(t *testing.T) {
	client := fake.NewClientset()
	var lists atomic.Int32
	client.PrependReactor("list", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
		if lists.Add(1) == 1 {
			return true, &corev1.ServiceAccountList{}, nil
		}
		return true, &corev1.ServiceAccountList{Items: []corev1.ServiceAccount{*roleSA("apps", "relisted")}}, nil
	})
	var watches atomic.Int32
	client.PrependWatchReactor("serviceaccounts", func(k8stesting.Action) (bool, watch.Interface, error) {
		w := watch.NewFakeWithChanSize(1, false)
		if watches.Add(1) == 1 {
			w.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version"})
		}
		return true, w, nil
	})
	var logs logBuffer
	h, _ := newTestHandler(t, Options{Client: client, Logger: newTestLogger(&logs)})
	require.Eventually(t, func() bool {
		h.cache.mu.Lock()
		defer h.cache.mu.Unlock()
		_, ok := h.cache.entries["apps/relisted"]
		return ok
	}, 5*time.Second, 5*time.Millisecond)
	require.Contains(t, logs.String(), "re-listing")
}
