package irsawebhook

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The cases of upstream's pkg/containercredentials/config_test.go and of
// pkg/filesystem/file_watcher_test.go (the watcher behind
// --watch-container-credentials-config) at upstreamCommit, run against the
// identities file of a Handler. Upstream's watcher hands any content to a
// callback; here the content is the identities file, so the watcher cases
// write identities JSON where upstream writes "foo" and "bar", and the
// expected content is the set of identities it lists.

// upstreamIdentities is upstream's defaultConfigObject.
const upstreamIdentities = `{"identities":[{"namespace":"foo","serviceAccount":"ns-foo-sa"},{"namespace":"bar","serviceAccount":"ns-bar-sa"}]}`

// upstreamContainerCredentials are the options of upstream's config tests.
var upstreamContainerCredentials = ContainerCredentialsOptions{Audience: "audience", MountPath: "mountPath", VolumeName: "volumeName",
	TokenPath: "tokenName", FullURI: "fullUri"}

// identitiesHandler starts a Handler watching file (which may not exist)
// and returns its container credentials source.
func identitiesHandler(t *testing.T, file string, logs *logBuffer) containerCredentialsSource {
	t.Helper()
	opts := Options{ContainerCredentials: upstreamContainerCredentials}
	opts.ContainerCredentials.ConfigFile = file
	if logs != nil {
		opts.Logger = newTestLogger(logs)
	}
	h, _ := newTestHandler(t, opts)
	src, ok := h.sources[0].(containerCredentialsSource)
	require.True(t, ok, "container credentials come first")
	return src
}

// setOf is the identity set a config lists.
func setOf(pairs ...string) map[identity]bool {
	out := map[identity]bool{}
	for _, p := range pairs {
		ns, sa, _ := strings.Cut(p, "/")
		out[identity{Namespace: ns, ServiceAccount: sa}] = true
	}
	return out
}

func (c *identities) snapshot() map[identity]bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return maps.Clone(c.set)
}

// requireIdentities waits, as upstream's verifyConfigObject does (10 s),
// for ids to list exactly want.
func requireIdentities(t *testing.T, ids *identities, want map[identity]bool) {
	t.Helper()
	require.Eventually(t, func() bool { return maps.Equal(ids.snapshot(), want) }, 10*time.Second, 10*time.Millisecond,
		"want %v, have %v", want, ids.snapshot())
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	_, err = f.WriteString(content)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func upstreamContainerCredentialsTable() []runCase {
	cases := []runCase{
		{name: "TestFileConfig_Watcher", run: func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "file")
			writeFile(t, file, upstreamIdentities)
			src := identitiesHandler(t, file, nil)
			requireIdentities(t, src.ids, setOf("foo/ns-foo-sa", "bar/ns-bar-sa"))
			writeFile(t, file, `{"identities":[{"namespace":"foo","serviceAccount":"ns-foo-sa"},{"namespace":"bar","serviceAccount":"ns-bar-sa"},{"namespace":"new-ns","serviceAccount":"new-sa"}]}`)
			requireIdentities(t, src.ids, setOf("foo/ns-foo-sa", "bar/ns-bar-sa", "new-ns/new-sa"))
		}},
		{name: "TestFileConfig_WatcherNotStarted", run: func(t *testing.T) {
			ids := &identities{path: filepath.Join(t.TempDir(), "file"), log: newTestLogger(&logBuffer{})}
			require.False(t, ids.has("non-existent", "non-existent"))
		}},
		{name: "TestFileConfig_Get", run: func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "file")
			writeFile(t, file, upstreamIdentities)
			src := identitiesHandler(t, file, nil)
			require.Len(t, src.ids.snapshot(), 2)
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "foo"}, Spec: corev1.PodSpec{ServiceAccountName: "ns-foo-sa"}}
			pc, err := src.patchConfig(t.Context(), pod, "foo", "ns-foo-sa")
			require.NoError(t, err)
			require.NotNil(t, pc)
			require.Equal(t, "audience", pc.Audience)
			require.Equal(t, "fullUri", pc.ContainerCredentials.FullURI)
			pc, err = src.patchConfig(t.Context(), pod, "non-existent", "non-existent")
			require.NoError(t, err)
			require.Nil(t, pc)
		}},
		{name: "TestFileWatch_RetryOnHandlerError", run: func(t *testing.T) {
			// Content the handler refuses is retried, changing nothing,
			// until the file holds content it takes.
			file := filepath.Join(t.TempDir(), "file")
			writeFile(t, file, "Invalid content")
			var logs logBuffer
			src := identitiesHandler(t, file, &logs)
			require.Eventually(t, func() bool { return strings.Count(logs.String(), "reload container credentials config") > 1 }, 10*time.Second, 10*time.Millisecond)
			require.Empty(t, src.ids.snapshot())
			writeFile(t, file, upstreamIdentities)
			requireIdentities(t, src.ids, setOf("foo/ns-foo-sa", "bar/ns-bar-sa"))
		}},
	}
	// TestFileConfig_Load: what a load of each content leaves.
	for _, tc := range []struct {
		name    string
		content *string // nil: no file (upstream loads nil)
		want    map[identity]bool
		wantErr bool
	}{
		{name: "Nil byte slice", want: setOf()},
		{name: "Empty byte slice", content: ptr(""), want: setOf()},
		{name: "Basic Test", content: ptr(upstreamIdentities), want: setOf("foo/ns-foo-sa", "bar/ns-bar-sa")},
		{name: "Malformed JSON bytes", content: ptr("bad json"), wantErr: true},
	} {
		cases = append(cases, runCase{name: "TestFileConfig_Load/" + tc.name, run: func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "file")
			if tc.content != nil {
				writeFile(t, file, *tc.content)
			}
			ids := &identities{path: file, log: newTestLogger(&logBuffer{})}
			err := ids.load()
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, ids.snapshot())
		}})
	}
	// TestFileWatcher: the identities file before and after the watch
	// starts.
	a := `{"identities":[{"namespace":"a","serviceAccount":"x"}]}`
	b := `{"identities":[{"namespace":"b","serviceAccount":"y"}]}`
	for _, tc := range []struct {
		name   string
		before func(t *testing.T, file string)
		after  func(t *testing.T, file string)
		want   map[identity]bool
	}{
		{name: "Missing file", want: setOf()},
		{name: "Empty file", before: func(t *testing.T, file string) { writeFile(t, file, "") }, want: setOf()},
		{name: "File exists before watch is started", before: func(t *testing.T, file string) { writeFile(t, file, a) }, want: setOf("a/x")},
		{name: "File is created after watch", after: func(t *testing.T, file string) { writeFile(t, file, b) }, want: setOf("b/y")},
		{name: "File is removed after watch", before: func(t *testing.T, file string) { writeFile(t, file, b) },
			after: func(t *testing.T, file string) { require.NoError(t, os.Remove(file)) }, want: setOf()},
		{name: "Basic test", before: func(t *testing.T, file string) {
			writeFile(t, file, `{"identities":[{"namespace":"a","serviceAccount":"x"}`)
		},
			after: func(t *testing.T, file string) {
				appendFile(t, file, `,{"namespace":"b","serviceAccount":"y"}`)
				appendFile(t, file, `]}`)
			}, want: setOf("a/x", "b/y")},
	} {
		cases = append(cases, runCase{name: "TestFileWatcher/" + tc.name, run: func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "file")
			if tc.before != nil {
				tc.before(t, file)
			}
			src := identitiesHandler(t, file, nil)
			if tc.after != nil {
				tc.after(t, file)
			}
			requireIdentities(t, src.ids, tc.want)
		}})
	}
	return cases
}

func upstreamContainerCredentialsCases() []upstreamCase {
	var out []upstreamCase
	for _, c := range upstreamContainerCredentialsTable() {
		out = append(out, upstreamCase{name: c.name, diff: c.diff})
	}
	return out
}

func TestUpstreamContainerCredentials(t *testing.T) {
	for _, c := range upstreamContainerCredentialsTable() {
		t.Run(c.name, c.run)
	}
}
