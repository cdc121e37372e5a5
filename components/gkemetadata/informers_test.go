package gkemetadata

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// lookups are the reads of pods and service accounts among actions: what
// the caches spare the API server.
func lookups(actions []k8stesting.Action) []string {
	var out []string
	for _, a := range actions {
		r := a.GetResource().Resource
		if (r == "pods" || r == "serviceaccounts") && a.GetSubresource() == "" && (a.GetVerb() == "get" || a.GetVerb() == "list") {
			out = append(out, a.GetVerb()+" "+r)
		}
	}
	return out
}

var (
	t0 = metav1.NewTime(time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC))
	t1 = metav1.NewTime(t0.Add(time.Minute))
)

// at is a pod of team-a on this node with IP ipReused, created at created,
// edited by edits.
func at(name string, created metav1.Time, edits ...func(*corev1.Pod)) *corev1.Pod {
	p := pod("team-a", name, "app", ipReused, nodeName, false)
	p.CreationTimestamp = created
	for _, e := range edits {
		e(p)
	}
	return p
}

const ipReused = "10.244.0.60"

func phase(ph corev1.PodPhase) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func deleting(p *corev1.Pod) { p.DeletionTimestamp = &t1 }

// TestCurrentPod is the rule that picks the caller among the pods the
// cache holds with its IP: never a pod that has ended or is being
// deleted; of two live ones, Running first, then the newer. Each case
// runs with the pods in both orders.
func TestCurrentPod(t *testing.T) {
	tests := []struct {
		name string
		ip   string // defaults to ipReused
		pods []*corev1.Pod
		want string // "" for none
	}{
		{name: "no pod", want: ""},
		{name: "running", pods: []*corev1.Pod{at("old", t0)}, want: "old"},
		{name: "pending with its IP (init containers)", pods: []*corev1.Pod{at("old", t0, phase(corev1.PodPending))}, want: "old"},
		{name: "on another node", pods: []*corev1.Pod{at("old", t0, func(p *corev1.Pod) { p.Spec.NodeName = "gke-node-2" })}, want: ""},
		{name: "another IP", ip: "10.244.0.61", pods: []*corev1.Pod{at("old", t0)}, want: ""},
		{name: "no IP yet", pods: []*corev1.Pod{at("old", t0, func(p *corev1.Pod) { p.Status.PodIP, p.Status.PodIPs = "", nil })}, want: ""},
		{name: "second IP (dual stack)", ip: "fd00::60", pods: []*corev1.Pod{at("old", t0, func(p *corev1.Pod) {
			p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: "fd00::60"})
		})}, want: "old"},
		{name: "Succeeded", pods: []*corev1.Pod{at("old", t0, phase(corev1.PodSucceeded))}, want: ""},
		{name: "Failed", pods: []*corev1.Pod{at("old", t0, phase(corev1.PodFailed))}, want: ""},
		{name: "being deleted", pods: []*corev1.Pod{at("old", t0, deleting)}, want: ""},
		{name: "IP reused after Succeeded", pods: []*corev1.Pod{at("old", t0, phase(corev1.PodSucceeded)), at("new", t1)}, want: "new"},
		{name: "IP reused after Failed, new pending", pods: []*corev1.Pod{at("old", t0, phase(corev1.PodFailed)), at("new", t1, phase(corev1.PodPending))}, want: "new"},
		{name: "IP reused by an older pod", pods: []*corev1.Pod{at("old", t1, phase(corev1.PodSucceeded)), at("new", t0)}, want: "new"},
		{name: "transition: old terminating, new pending", pods: []*corev1.Pod{at("old", t0, deleting), at("new", t1, phase(corev1.PodPending))}, want: "new"},
		{name: "transition: old terminating, new running", pods: []*corev1.Pod{at("old", t0, deleting), at("new", t1)}, want: "new"},
		{name: "two live: running over pending", pods: []*corev1.Pod{at("old", t0), at("new", t1, phase(corev1.PodPending))}, want: "old"},
		{name: "two running: the newer", pods: []*corev1.Pod{at("old", t0), at("new", t1)}, want: "new"},
		{name: "two running, created together: by name", pods: []*corev1.Pod{at("b", t0), at("a", t0)}, want: "a"},
	}
	for _, tc := range tests {
		ip := tc.ip
		if ip == "" {
			ip = ipReused
		}
		for _, order := range []string{"forward", "reversed"} {
			t.Run(tc.name+"/"+order, func(t *testing.T) {
				pods := slices.Clone(tc.pods)
				if order == "reversed" {
					slices.Reverse(pods)
				}
				got := currentPod(pods, ip, nodeName)
				if tc.want == "" {
					require.Nil(t, got)
					return
				}
				require.NotNil(t, got)
				require.Equal(t, tc.want, got.Name)
			})
		}
	}
}

// TestIPReuse drives the informers through a pod's end and its IP's reuse
// and asks the server as the IP: the answer is the current pod's, or 404
// when no live pod holds the IP, and a token cached for the old pod is
// never the new pod's. The old pod runs as team-a/app (reader's GSA), the
// new one as team-a/plain (the workload pool's federated identity).
func TestIPReuse(t *testing.T) {
	ctx := context.Background()
	newPod := func(edits ...func(*corev1.Pod)) *corev1.Pod {
		p := at("new", t1, edits...)
		p.Spec.ServiceAccountName, p.UID = "plain", "team-a-new-uid"
		return p
	}
	create := func(p *corev1.Pod) func(*testing.T, *fake.Clientset) {
		return func(t *testing.T, cs *fake.Clientset) {
			_, err := cs.CoreV1().Pods("team-a").Create(ctx, p, metav1.CreateOptions{})
			require.NoError(t, err)
		}
	}
	deleteOld := func(t *testing.T, cs *fake.Clientset) {
		require.NoError(t, cs.CoreV1().Pods("team-a").Delete(ctx, "old", metav1.DeleteOptions{}))
	}
	updateOld := func(edit func(*corev1.Pod)) func(*testing.T, *fake.Clientset) {
		return func(t *testing.T, cs *fake.Clientset) {
			_, err := cs.CoreV1().Pods("team-a").Update(ctx, at("old", t0, edit), metav1.UpdateOptions{})
			require.NoError(t, err)
		}
	}
	tests := []struct {
		name  string
		steps []func(*testing.T, *fake.Clientset)
		want  string // the pod that holds the IP afterwards, "" for none
	}{
		{name: "deleted", steps: []func(*testing.T, *fake.Clientset){deleteOld}},
		{name: "deleted, IP reused", steps: []func(*testing.T, *fake.Clientset){deleteOld, create(newPod())}, want: "new"},
		{name: "Succeeded", steps: []func(*testing.T, *fake.Clientset){updateOld(phase(corev1.PodSucceeded))}},
		{name: "Succeeded, IP reused", steps: []func(*testing.T, *fake.Clientset){updateOld(phase(corev1.PodSucceeded)), create(newPod())}, want: "new"},
		{name: "Failed, IP reused by a pending pod", steps: []func(*testing.T, *fake.Clientset){updateOld(phase(corev1.PodFailed)), create(newPod(phase(corev1.PodPending)))}, want: "new"},
		{name: "terminating", steps: []func(*testing.T, *fake.Clientset){updateOld(deleting)}},
		{name: "terminating, new pod with the IP", steps: []func(*testing.T, *fake.Clientset){updateOld(deleting), create(newPod(phase(corev1.PodPending)))}, want: "new"},
		{name: "new pod before the old one's end reaches the watch", steps: []func(*testing.T, *fake.Clientset){create(newPod())}, want: "new"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, nil)
			create(at("old", t0))(t, l.client)
			waitCached(t, l.h, ipReused, "old")
			resp, body := l.get(t, ipReused, "/computeMetadata/v1/instance/service-accounts/default/email", nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			require.Equal(t, reader, body)
			oldTok := l.token(t, ipReused)

			for _, step := range tc.steps {
				step(t, l.client)
			}
			waitCached(t, l.h, ipReused, tc.want)
			resp, body = l.get(t, ipReused, "/computeMetadata/v1/instance/service-accounts/default/email", nil)
			if tc.want == "" {
				require.Equal(t, http.StatusNotFound, resp.StatusCode, body)
				require.Equal(t, "Unable to find a pod with IP address "+ipReused+" on node "+nodeName+".\n", body)
				resp, body = l.get(t, ipReused, "/computeMetadata/v1/instance/service-accounts/default/token", nil)
				require.Equal(t, http.StatusNotFound, resp.StatusCode, body, "the old pod's cached token is not served")
				return
			}
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			require.Equal(t, pool, body)
			newTok := l.token(t, ipReused)
			require.NotEqual(t, oldTok, newTok)
			info, err := l.iam.Handler().VerifyAccessToken(newTok)
			require.NoError(t, err)
			require.Equal(t, "serviceAccount:"+pool+"[team-a/plain]", info.Member())
		})
	}
}

// token is the access token the pod at ip gets.
func (l *lab) token(t *testing.T, ip string) string {
	t.Helper()
	resp, body := l.get(t, ip, "/computeMetadata/v1/instance/service-accounts/default/token", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var tok tokenAnswer
	require.NoError(t, json.Unmarshal([]byte(body), &tok))
	return tok.AccessToken
}

// waitCached waits for h's cache to name want ("" none) as the pod at ip.
func waitCached(t *testing.T, h *Handler, ip, want string) {
	t.Helper()
	name := func() string {
		if p := h.api.pod(ip, nodeName); p != nil {
			return p.Name
		}
		return ""
	}
	require.Eventually(t, func() bool { return name() == want }, 10*time.Second, time.Millisecond, "cache names %q, want %q", name(), want)
}

// TestCachedLookupsAskNothing: once the caches hold the pod and its KSA,
// a token request reads neither from the API server; only the KSA token
// (TokenRequest) is asked for, once, then cached.
func TestCachedLookupsAskNothing(t *testing.T) {
	l := newLab(t, nil)
	before := len(l.client.Actions())
	for range 3 {
		l.token(t, ipApp)
		resp, body := l.get(t, ipApp, "/computeMetadata/v1/instance/service-accounts/default/email", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
	}
	actions := l.client.Actions()[before:]
	require.Empty(t, lookups(actions))
	var tokenRequests int
	for _, a := range actions {
		if a.GetVerb() == "create" && a.GetSubresource() == "token" {
			tokenRequests++
		}
	}
	require.Equal(t, 1, tokenRequests)
}

// bareOptions serve the pods of cs without Google behind them (paths that
// need no token) from the IP in the test header.
func bareOptions(cs *fake.Clientset, wait time.Duration) Options {
	return Options{Client: cs, NodeName: nodeName, NodeIP: nodeIP, ProjectID: project, ProjectNumber: projNum,
		ClusterName: "gke", ClusterLocation: "us-central1", IssuerURL: issuerURL, PodLookupWait: wait,
		RemoteIP: func(r *http.Request) string { return r.Header.Get(sourceIPHeader) }}
}

// email is GET .../default/email from ip on h.
func email(h http.Handler, ip string) (int, string) {
	r := httptest.NewRequest(http.MethodGet, "/computeMetadata/v1/instance/service-accounts/default/email", nil)
	r.Header.Set("Metadata-Flavor", "Google")
	r.Header.Set(sourceIPHeader, ip)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// TestServiceAccountNotWatchedYet: a KSA the watch has not brought (made
// just before its pod) is read from the API server, with today's 404 when
// it does not exist and 500 when the API fails.
func TestServiceAccountNotWatchedYet(t *testing.T) {
	const ipLateSA, ipNoSA = "10.244.0.70", "10.244.0.71"
	cs := fake.NewClientset(pod("team-c", "p", "late", ipLateSA, nodeName, false), pod("team-c", "q", "ghost", ipNoSA, nodeName, false))
	cs.PrependWatchReactor("serviceaccounts", func(k8stesting.Action) (bool, watch.Interface, error) { return true, watch.NewFake(), nil })
	h, err := New(bareOptions(cs, 0))
	require.NoError(t, err)
	startCaches(t, h, cs)
	_, err = cs.CoreV1().ServiceAccounts("team-c").Create(context.Background(), ksa("team-c", "late", reader), metav1.CreateOptions{})
	require.NoError(t, err)

	before := len(cs.Actions())
	code, body := email(h, ipLateSA)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, reader, body)
	require.Equal(t, []string{"get serviceaccounts"}, lookups(cs.Actions()[before:]))

	code, body = email(h, ipNoSA)
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, "Kubernetes service account team-c/ghost of pod team-c/q not found.\n", body)

	cs.PrependReactor("get", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, fmt.Errorf("etcd unavailable")
	})
	code, body = email(h, ipNoSA)
	require.Equal(t, http.StatusInternalServerError, code, body)
	require.Equal(t, "Internal Server Error: get service account team-c/ghost: etcd unavailable\n", body)
}

// TestNotStarted: without Start the caches never fill; a caller's request
// waits PodLookupWait, then 500, and static paths still answer.
func TestNotStarted(t *testing.T) {
	cs := fake.NewClientset(ksa("team-a", "app", reader), pod("team-a", "app", "app", ipApp, nodeName, false))
	h, err := New(bareOptions(cs, 10*time.Millisecond))
	require.NoError(t, err)
	code, body := email(h, ipApp)
	require.Equal(t, http.StatusInternalServerError, code, body)
	require.Equal(t, "Internal Server Error: the pod cache has not synced (Handler.Start)\n", body)
	r := httptest.NewRequest(http.MethodGet, "/computeMetadata/v1/project/project-id", nil)
	r.Header.Set("Metadata-Flavor", "Google")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)

	startCaches(t, h, cs)
	code, body = email(h, ipApp)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, reader, body)
}

// TestStartFails: caches that cannot list do not sync; Start says so when
// its context ends.
func TestStartFails(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, fmt.Errorf("forbidden")
	})
	h, err := New(bareOptions(cs, 0))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = h.Start(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "caches did not sync")
}

// TestStormOfNewPods: 50 pods' first calls, all before their pods reach
// the API, wait for the watch together and are each answered with their
// own KSA's account when their pod arrives, with no read of the API.
func TestStormOfNewPods(t *testing.T) {
	const n = 50
	objs := []runtime.Object{}
	for i := range n {
		objs = append(objs, ksa("storm", fmt.Sprintf("ksa-%d", i), fmt.Sprintf("gsa-%d@%s.iam.gserviceaccount.com", i, project)))
	}
	cs := fake.NewClientset(objs...)
	h, err := New(bareOptions(cs, 30*time.Second))
	require.NoError(t, err)
	startCaches(t, h, cs)
	ip := func(i int) string { return fmt.Sprintf("10.244.2.%d", i+1) }
	before := len(cs.Actions())

	type result struct {
		code int
		body string
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].code, results[i].body = email(h, ip(i))
		}()
	}
	require.Eventually(t, func() bool {
		for i := range n {
			if h.api.waiting(ip(i)) == 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond, "every request waits")
	for i := range n {
		p := pod("storm", fmt.Sprintf("p-%d", i), fmt.Sprintf("ksa-%d", i), ip(i), nodeName, false)
		p.UID = types.UID(fmt.Sprintf("storm-%d", i))
		_, err := cs.CoreV1().Pods("storm").Create(context.Background(), p, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	wg.Wait()
	for i, r := range results {
		require.Equal(t, http.StatusOK, r.code, r.body)
		require.Equal(t, fmt.Sprintf("gsa-%d@%s.iam.gserviceaccount.com", i, project), r.body)
	}
	require.Empty(t, lookups(cs.Actions()[before:]))
	for i := range n {
		require.Zero(t, h.api.waiting(ip(i)), "no waiter left behind")
	}
}

// TestTrim: the caches keep what the server reads and drop the rest.
func TestTrim(t *testing.T) {
	p := at("old", t0, deleting)
	p.Labels = map[string]string{"app": "x"}
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}
	p.Spec.Containers = []corev1.Container{{Name: "c", Image: "i"}}
	got, err := trimPod(p)
	require.NoError(t, err)
	want := at("old", t0, deleting)
	require.Equal(t, want, got)

	sa := ksa("team-a", "app", reader)
	sa.Annotations["other"] = "x"
	sa.Secrets = []corev1.ObjectReference{{Name: "s"}}
	gotSA, err := trimServiceAccount(sa)
	require.NoError(t, err)
	require.Equal(t, ksa("team-a", "app", reader), gotSA)

	other := &corev1.Node{}
	same, err := trimPod(other)
	require.NoError(t, err)
	require.Same(t, other, same)
}
