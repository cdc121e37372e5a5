package irsawebhook

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestIdentitiesFile covers every state of the container credentials
// config file: what is listed is exactly what has an association, and a
// file that does not parse changes nothing.
func TestIdentitiesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	ids := &identities{path: path, log: newTestLogger(&logBuffer{})}
	write := func(s string) { require.NoError(t, os.WriteFile(path, []byte(s), 0o600)) }

	steps := []struct {
		name    string
		content *string // nil removes the file
		wantErr string
		want    map[string]bool // namespace/sa -> listed
	}{
		{name: "missing file", want: map[string]bool{"apps/app": false}},
		{name: "listed", content: ptr(`{"identities":[{"namespace":"apps","serviceAccount":"app"},{"namespace":"b","serviceAccount":"x","workloadIdentity":true}]}`),
			want: map[string]bool{"apps/app": true, "b/x": true, "apps/x": false, "b/app": false}},
		{name: "invalid JSON keeps the last set", content: ptr(`{"identities":[`), wantErr: "error Unmarshalling container credentials config file",
			want: map[string]bool{"apps/app": true}},
		{name: "wrong shape keeps the last set", content: ptr(`{"identities":{"namespace":"apps"}}`), wantErr: "Unmarshalling",
			want: map[string]bool{"apps/app": true}},
		{name: "changed", content: ptr(`{"identities":[{"namespace":"b","serviceAccount":"x"}]}`),
			want: map[string]bool{"apps/app": false, "b/x": true}},
		{name: "no identities key", content: ptr(`{}`), want: map[string]bool{"b/x": false}},
		{name: "back", content: ptr(`{"identities":[{"namespace":"b","serviceAccount":"x"}]}`), want: map[string]bool{"b/x": true}},
		// As upstream's FileConfig.Load: only zero bytes are empty.
		{name: "blank file is invalid JSON", content: ptr("  \n"), wantErr: "unexpected end of JSON input", want: map[string]bool{"b/x": true}},
		{name: "empty file clears", content: ptr(""), want: map[string]bool{"b/x": false}},
		{name: "back again", content: ptr(`{"identities":[{"namespace":"b","serviceAccount":"x"}]}`), want: map[string]bool{"b/x": true}},
		{name: "removed file clears", want: map[string]bool{"b/x": false}},
	}
	for _, s := range steps {
		if s.content == nil {
			_ = os.Remove(path)
		} else {
			write(*s.content)
		}
		err := ids.load()
		if s.wantErr != "" {
			require.ErrorContains(t, err, s.wantErr, s.name)
		} else {
			require.NoError(t, err, s.name)
		}
		for key, want := range s.want {
			ns, sa, _ := cut(key)
			require.Equal(t, want, ids.has(ns, sa), "%s: %s", s.name, key)
		}
	}
}

func ptr(s string) *string { return &s }

func cut(key string) (string, string, bool) {
	for i := range key {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return key, "", false
}

// TestContainerCredentialsReload: the handler sees an association added to
// the file after it started, without a restart.
func TestContainerCredentialsReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"identities":[]}`), 0o600))
	h, _ := newTestHandler(t, Options{ContainerCredentials: ContainerCredentialsOptions{ConfigFile: path}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "apps"}})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "apps"},
		Spec: corev1.PodSpec{ServiceAccountName: "app", Containers: []corev1.Container{{Name: "c"}}}}

	resp := h.Mutate(t.Context(), podRequest(t, "before", "apps", pod))
	require.Nil(t, resp.Patch, "no association yet")

	require.NoError(t, os.WriteFile(path, []byte(`{"identities":[{"namespace":"apps","serviceAccount":"app"}]}`), 0o600))
	require.Eventually(t, func() bool {
		return h.Mutate(t.Context(), podRequest(t, "after", "apps", pod)).Patch != nil
	}, 5*time.Second, 20*time.Millisecond)
	resp = h.Mutate(t.Context(), podRequest(t, "after", "apps", pod))
	require.Contains(t, string(resp.Patch), EnvContainerCredentialsFullURI)
	require.Contains(t, string(resp.Patch), `"audience":"pods.eks.amazonaws.com"`)
}

// TestJitterRange: the default lifetime is drawn from 79200..86400 with
// the injected source at both ends of its range; an explicit one is kept.
func TestJitterRange(t *testing.T) {
	for _, tc := range []struct {
		name string
		rand func(int64) int64
		exp  string
		want int64
	}{
		{"low end", func(int64) int64 { return 0 }, "", 79200},
		{"high end", func(n int64) int64 { return n - 1 }, "", 86400},
		{"explicit 3600 kept", func(int64) int64 { return 0 }, "3600", 3600},
		{"explicit 86400 jittered", func(int64) int64 { return 1 }, "86400", 79201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := &identities{set: map[identity]bool{{Namespace: "apps", ServiceAccount: "app"}: true}}
			s := containerCredentialsSource{ids: ids, cache: newSACache(Options{Logger: newTestLogger(&logBuffer{})}),
				opts: ContainerCredentialsOptions{Rand: tc.rand}}
			pod := &corev1.Pod{}
			if tc.exp != "" {
				pod.Annotations = map[string]string{AnnotationTokenExpiration: tc.exp}
			}
			cfg, err := s.patchConfig(t.Context(), pod, "apps", "app")
			require.NoError(t, err)
			require.Equal(t, tc.want, cfg.ExpirationSeconds)
			cfg, err = s.patchConfig(t.Context(), pod, "apps", "other")
			require.NoError(t, err)
			require.Nil(t, cfg, "not listed")
		})
	}
}

// FuzzParseIdentities: any config file content either parses or is an
// error; it never panics.
func FuzzParseIdentities(f *testing.F) {
	f.Add([]byte(`{"identities":[{"namespace":"a","serviceAccount":"b"}]}`))
	f.Add([]byte(`{"identities":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, raw []byte) {
		set, err := parseIdentities(raw)
		if err == nil {
			require.NotNil(t, set)
		}
	})
}
