package irsawebhook

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// The cases of upstream's pkg/cache/cache_test.go at upstreamCommit, run
// against saCache: upstream's addSA is set, Get is peek (or lookup when
// upstream asks for a notification or the API), GetCommonConfigurations is
// commonConfig.

// runCase is an upstream case with the test that runs it.
type runCase struct {
	name, diff string
	run        func(t *testing.T)
}

// upstreamS3Reader is the role of upstream's cache tests.
const upstreamS3Reader = "arn:aws:iam::111122223333:role/s3-reader"

// upstreamCacheOf is a cache as upstream's tests build serviceAccountCache
// literals: default audience sts.amazonaws.com, nothing listed or watched.
func upstreamCacheOf(t *testing.T, opts Options) *saCache {
	t.Helper()
	if opts.Client == nil {
		opts.Client = fakeClient()
	}
	opts, err := opts.normalize()
	require.NoError(t, err)
	return newSACache(opts)
}

func saOf(ns, name string, annotations map[string]string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations}}
}

// upstreamConfigMap is the pod-identity-webhook ConfigMap of upstream's
// --watch-config-map tests, in the namespace the webhook runs in.
func upstreamConfigMap(config string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "eks", Name: "pod-identity-webhook"}, Data: map[string]string{"config": config}}
}

func upstreamCacheTable() []runCase {
	cases := []runCase{
		{name: "TestSaCache", run: func(t *testing.T) {
			c := upstreamCacheOf(t, Options{})
			got, found := c.peek("default", "default")
			require.False(t, found)
			require.Empty(t, got.RoleARN)
			require.Empty(t, got.Audience)
			c.set(saOf("default", "default", map[string]string{AnnotationRoleARN: upstreamS3Reader, AnnotationRegionalSTS: "true", AnnotationTokenExpiration: "3600"}))
			got, found = c.peek("default", "default")
			require.True(t, found)
			require.Equal(t, serviceAccountConfig{RoleARN: upstreamS3Reader, Audience: "sts.amazonaws.com", RegionalSTS: true, TokenExpiration: 3600}, got)
		}},
		{name: "TestNotification/with one notification handler", run: func(t *testing.T) { upstreamNotification(t, 1) }},
		{name: "TestNotification/with 10 notification handlers", run: func(t *testing.T) { upstreamNotification(t, 10) }},
		{name: "TestFetchFromAPIServer", run: func(t *testing.T) {
			client := fake.NewClientset()
			hideFromWatch(t, client)
			require.NoError(t, client.Tracker().Add(saOf("default", "my-sa", map[string]string{AnnotationRoleARN: upstreamS3Reader, AnnotationTokenExpiration: "3600"})))
			h, _ := newTestHandler(t, Options{Client: client, RegionalSTS: true})
			_, found := h.cache.peek("default", "my-sa")
			require.False(t, found)
			_, found, err := h.cache.lookup(t.Context(), "default", "my-sa")
			require.NoError(t, err)
			require.True(t, found)
			_, found = h.cache.peek("default", "my-sa")
			require.True(t, found, "now in the cache")
		}},
		{name: "TestSAAnnotationRemoval", run: func(t *testing.T) {
			c := upstreamCacheOf(t, Options{})
			c.set(saOf("default", "default", map[string]string{AnnotationRoleARN: upstreamS3Reader, AnnotationTokenExpiration: "3600"}))
			got, _ := c.peek("default", "default")
			require.Equal(t, upstreamS3Reader, got.RoleARN)
			c.set(saOf("default", "default", map[string]string{}))
			got, _ = c.peek("default", "default")
			require.Empty(t, got.RoleARN)
		}},
		{name: "TestPopulateCacheFromCM", diff: "configmap-roles", run: func(t *testing.T) {
			upstreamConfigMapRole(t, `{"myns/mysa":{"RoleARN":"arn:aws:iam::111122223333:role/s3-reader"},"myns2/mysa2": {"RoleARN":"arn:aws:iam::111122223333:role/s3-reader2"}}`, "myns2")
		}},
		{name: "TestPopulateCacheFromCMWithWildcard", diff: "configmap-roles", run: func(t *testing.T) {
			upstreamConfigMapRole(t, `{"*/mysa":{"RoleARN":"arn:aws:iam::111122223333:role/s3-reader"},"*/mysa2": {"RoleARN":"arn:aws:iam::111122223333:role/s3-reader2"}}`, "myns2")
		}},
		{name: "TestCachePrecedence", diff: "configmap-roles", run: upstreamCachePrecedence},
		{name: "TestRoleArnComposition", diff: "composed-role-arn", run: func(t *testing.T) {
			// Upstream, with --compose-role-arn (account 111122223333,
			// partition aws), turns the role name into
			// arn:aws:iam::111122223333:role/s3-reader.
			h, _ := newTestHandler(t, Options{RegionalSTS: true}, saOf("default", "default", map[string]string{AnnotationRoleARN: "s3-reader", AnnotationTokenExpiration: "3600"}))
			got, found, err := h.cache.lookup(t.Context(), "default", "default")
			require.NoError(t, err)
			require.True(t, found)
			require.Equal(t, "s3-reader", got.RoleARN, "idlab keeps the annotation as it is")
		}},
	}
	// TestNonRegionalSTS: the sts-regional-endpoints annotation over the
	// --sts-regional-endpoint default.
	for _, tc := range []struct {
		name       string
		annotation *string
		def, want  bool
	}{
		{"annotation true, default false, expect true", ptr("true"), false, true},
		{"annotation false, default false, expect false", ptr("false"), false, false},
		{"annotation empty, default false, expect false", ptr(""), false, false},
		{"no annotation, default false, expect false", nil, false, false},
		{"annotation true, default true, expect true", ptr("true"), true, true},
		{"annotation false, default true, expect false", ptr("false"), true, false},
		{"annotation empty, default true, expect true", ptr(""), true, true},
		{"no annotation, default true, expect true", nil, true, true},
	} {
		cases = append(cases, runCase{name: "TestNonRegionalSTS/" + tc.name, run: func(t *testing.T) {
			ann := map[string]string{AnnotationRoleARN: upstreamS3Reader, AnnotationTokenExpiration: "3600"}
			if tc.annotation != nil {
				ann[AnnotationRegionalSTS] = *tc.annotation
			}
			h, _ := newTestHandler(t, Options{RegionalSTS: tc.def}, saOf("default", "default", ann))
			got, found, err := h.cache.lookup(t.Context(), "default", "default")
			require.NoError(t, err)
			require.True(t, found)
			require.Equal(t, serviceAccountConfig{RoleARN: upstreamS3Reader, Audience: "sts.amazonaws.com", RegionalSTS: tc.want, TokenExpiration: 3600}, got)
		}})
	}
	// TestGetCommonConfigurations: what container credentials take from a
	// ServiceAccount foo/foo-sa (sts-regional-endpoints true, lifetime
	// 10000) or the ConfigMap entry for it (true, 20000).
	sa := saOf("foo", "foo-sa", map[string]string{AnnotationRegionalSTS: "true", AnnotationTokenExpiration: "10000"})
	cm := upstreamConfigMap(`{"foo/foo-sa":{"RoleARN":"arn:aws-test:iam::123456789012:role/my-role","Audience":"amazonaws.com","UseRegionalSTS":true,"TokenExpiration":20000}}`)
	for _, tc := range []struct {
		name            string
		objs            []runtime.Object
		ns, sa          string
		wantRegional    bool
		wantExpiration  int64
		idlabRegional   bool
		idlabExpiration int64
		diff            string
	}{
		{name: "Entry not found in sa or cm", ns: "ns", sa: "sa", wantExpiration: 86400},
		{name: "Service account is set, but not CM", objs: []runtime.Object{sa}, ns: "foo", sa: "foo-sa", wantRegional: true, wantExpiration: 10000},
		{name: "Config map is set, but not service account", objs: []runtime.Object{cm}, ns: "foo", sa: "foo-sa", wantRegional: true, wantExpiration: 20000,
			idlabExpiration: 86400, diff: "configmap-roles"},
		{name: "Both service account and config map is set, service account should take precedence", objs: []runtime.Object{sa, cm}, ns: "foo", sa: "foo-sa",
			wantRegional: true, wantExpiration: 10000},
	} {
		cases = append(cases, runCase{name: "TestGetCommonConfigurations/" + tc.name, diff: tc.diff, run: func(t *testing.T) {
			h, _ := newTestHandler(t, Options{}, tc.objs...)
			regional, exp := h.cache.commonConfig(tc.ns, tc.sa)
			if tc.diff == "" {
				require.Equal(t, tc.wantRegional, regional)
				require.Equal(t, tc.wantExpiration, exp)
				return
			}
			require.Equal(t, tc.idlabRegional, regional)
			require.Equal(t, tc.idlabExpiration, exp)
			require.False(t, regional == tc.wantRegional && exp == tc.wantExpiration, "idlab now matches upstream; drop difference %q", tc.diff)
		}})
	}
	return cases
}

// upstreamNotification is TestNotification with n waiting lookups: the
// ServiceAccount is added to the cache while they wait (its API GET never
// answers), and each of them finds it.
func upstreamNotification(t *testing.T, n int) {
	client := fake.NewClientset()
	hideFromWatch(t, client)
	g := newGatedClient(client)
	t.Cleanup(func() { close(g.gate) })
	h, _ := newTestHandler(t, Options{Client: g, LookupTimeout: 5 * time.Second})
	_, found := h.cache.peek("default", "foo")
	require.False(t, found)
	var wg sync.WaitGroup
	got := make(chan bool, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := h.cache.lookup(t.Context(), "default", "foo")
			got <- ok && err == nil
		}()
	}
	time.Sleep(time.Millisecond)
	h.cache.set(saOf("default", "foo", nil))
	wg.Wait()
	close(got)
	for ok := range got {
		require.True(t, ok)
	}
	_, found = h.cache.peek("default", "foo")
	require.True(t, found)
}

// upstreamConfigMapRole is the first step of upstream's ConfigMap tests:
// the pod-identity-webhook ConfigMap names a role for myns2/mysa2 (or
// */mysa2) and upstream's Get finds it. idlab reads no ConfigMap, so there
// is no role.
func upstreamConfigMapRole(t *testing.T, config, ns string) {
	h, _ := newTestHandler(t, Options{}, upstreamConfigMap(config))
	got, found, err := h.cache.lookup(t.Context(), ns, "mysa2")
	require.NoError(t, err)
	require.False(t, found, "upstream: found, with role s3-reader2")
	require.Empty(t, got.RoleARN)
}

// upstreamCachePrecedence is TestCachePrecedence: a ServiceAccount's own
// annotations win over the ConfigMap's entry for it; once the annotation
// is gone, upstream serves the ConfigMap's role, which idlab does not read.
func upstreamCachePrecedence(t *testing.T) {
	sa := saOf("myns2", "mysa2", map[string]string{AnnotationRoleARN: upstreamS3Reader, AnnotationTokenExpiration: "3600"})
	cm := upstreamConfigMap(`{"myns/mysa":{"RoleARN":"arn:aws:iam::111122223333:role/s3-reader"},"myns2/mysa2": {"RoleARN":"arn:aws:iam::111122223333:role/s3-reader2"}}`)
	cm2 := upstreamConfigMap(`{"myns/mysa":{"RoleARN":"arn:aws:iam::111122223333:role/s3-reader"}}`)
	h, client := newTestHandler(t, Options{}, sa, cm)
	// The fake's watch does not replay what happened before it started.
	require.Eventually(t, func() bool {
		return slices.ContainsFunc(client.Actions(), func(a k8stesting.Action) bool { return a.GetVerb() == "watch" })
	}, 5*time.Second, time.Millisecond)
	// Step 1, then step 2 with mysa2 gone from the ConfigMap: the
	// annotation's role and lifetime.
	for _, c := range []*corev1.ConfigMap{cm, cm2} {
		_, err := client.CoreV1().ConfigMaps(c.Namespace).Update(t.Context(), c, metav1.UpdateOptions{})
		require.NoError(t, err)
		got, found, err := h.cache.lookup(t.Context(), "myns2", "mysa2")
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, upstreamS3Reader, got.RoleARN)
		require.Equal(t, int64(3600), got.TokenExpiration)
	}
	// Step 3: the annotation removed, neither has a role.
	_, err := client.CoreV1().ServiceAccounts("myns2").Update(t.Context(), saOf("myns2", "mysa2", map[string]string{}), metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, _ := h.cache.peek("myns2", "mysa2")
		return got.RoleARN == ""
	}, 5*time.Second, 10*time.Millisecond)
	// Step 4: the ConfigMap lists mysa2 again; upstream finds role
	// s3-reader2 with the default lifetime, idlab no role.
	_, err = client.CoreV1().ConfigMaps(cm.Namespace).Update(t.Context(), cm, metav1.UpdateOptions{})
	require.NoError(t, err)
	got, found, err := h.cache.lookup(t.Context(), "myns2", "mysa2")
	require.NoError(t, err)
	require.True(t, found)
	require.Empty(t, got.RoleARN, "upstream: arn:aws:iam::111122223333:role/s3-reader2")
	require.Equal(t, DefaultTokenExpiration, got.TokenExpiration)
}

func upstreamCacheCases() []upstreamCase {
	var out []upstreamCase
	for _, c := range upstreamCacheTable() {
		out = append(out, upstreamCase{name: c.name, diff: c.diff})
	}
	return out
}

func TestUpstreamCache(t *testing.T) {
	for _, c := range upstreamCacheTable() {
		t.Run(c.name, c.run)
	}
}
