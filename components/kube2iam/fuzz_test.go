package kube2iam

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"a", "a", true}, {"a", "ab", false}, {"*", "", true}, {"*", "a/b", true},
		{"role/*", "role/x/y", true}, {"role/*-app", "role/kube2iam-app", true}, {"role/*-app", "role/kube2iam-apps", false},
		{"*app*", "kube2iam-app-x", true}, {"a*b*c", "abc", true}, {"a*b*c", "acb", false}, {"ab*ba", "aba", false},
		{"a.c", "abc", false}, {"a?c", "abc", false},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, globMatch(tc.pattern, tc.s), "%q ~ %q", tc.pattern, tc.s)
	}
}

// FuzzAllowedRoles: the namespace annotation is written by whoever may
// annotate the namespace. Parsing never panics and keeps what
// encoding/json decodes (upstream's GetNamespaceRoleAnnotation): the
// strings of an array, "" for its other elements, nothing for anything but
// an array; the patterns' matching never panics either, and what is not
// JSON allows nothing.
func FuzzAllowedRoles(f *testing.F) {
	for _, s := range []string{`["kube2iam-app"]`, `["*"]`, `[]`, `kube2iam-app`, `[1]`, `["a",null]`, `{"a":1}`, `["(a"]`, ``,
		`["kube2iam-app", 1]`, `[{"a":"b"},"kube2iam-*"]`, `"kube2iam-app"`} {
		f.Add(s, "arn:aws:iam::123456789012:role/kube2iam-app")
	}
	f.Fuzz(func(t *testing.T, raw, role string) {
		roles, err := ParseAllowedRoles(raw)
		var check []string
		checkErr := json.Unmarshal([]byte(raw), &check)
		if raw != "" {
			require.Equal(t, checkErr == nil, err == nil)
			require.Equal(t, check, roles)
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n", Annotations: map[string]string{DefaultNamespaceKey: raw}}}
		for _, format := range []string{FormatGlob, FormatRegexp} {
			o := Options{NamespaceKey: DefaultNamespaceKey, BaseRoleARN: "arn:aws:iam::123456789012:role/", NamespaceRestrictionFormat: format,
				Logger: slog.New(slog.DiscardHandler)}
			ok, why := o.allowedInNamespace(role, ns)
			require.True(t, ok == (why == ""), "a reason exactly when refused")
			if !json.Valid([]byte(raw)) || len(roles) == 0 {
				require.False(t, ok, "text that is not JSON, or an empty list, allows nothing")
			}
		}
	})
}

// FuzzGlob: a pattern without '*' matches only itself; '*' alone matches
// everything; a string matches itself as a pattern when it has no '*'.
func FuzzGlob(f *testing.F) {
	f.Add("role/*-app", "role/kube2iam-app")
	f.Add("**", "")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := globMatch(pattern, s)
		if !strings.Contains(pattern, "*") {
			require.Equal(t, pattern == s, got)
		}
		require.True(t, globMatch("*", s))
		if !strings.Contains(s, "*") {
			require.True(t, globMatch(s, s))
		}
	})
}

// FuzzPaths: any request path from a pod is routed without panicking, and
// the credentials paths answer only with upstream's statuses.
func FuzzPaths(f *testing.F) {
	md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }))
	f.Cleanup(md.Close)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p", Annotations: map[string]string{DefaultRoleKey: "kube2iam-app"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.7"}}
	h, err := New(Options{Client: fake.NewSimpleClientset(pod), MetadataURL: md.URL, BaseRoleARN: "arn:aws:iam::123456789012:role/",
		NamespaceRestriction: true, BackoffMaxElapsed: time.Nanosecond, RemoteIP: func(*http.Request) string { return "10.244.0.7" }})
	require.NoError(f, err)
	for _, p := range []string{"/latest/meta-data/iam/security-credentials/", "/x/meta-data/iam/security-credentials/kube2iam-app",
		"//meta-data/iam/security-credentials/", "/latest/meta-data/iam/security-credentials/a/b", "/latest/api/token", "/healthz", "/"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = path
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rest, ok := afterVersion(path); ok && strings.HasPrefix(rest, credsPath) && (rest == credsPath || strings.HasPrefix(rest, credsPath+"/")) {
			require.Contains(t, []int{http.StatusOK, http.StatusForbidden, http.StatusNotFound, http.StatusInternalServerError}, rec.Code, path)
			require.NotEqual(t, http.StatusOK, rec.Code, "namespace a allows nothing: %s", path)
		}
	})
}
