package irsawebhook

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/util/workqueue"
)

// The reload of the identities file against upstream's FileWatcher
// (pkg/filesystem/file_watcher.go at upstreamCommit): a change is loaded
// when the directory watch reports it, never by a poll; a failed load is
// retried on the workqueue's exponential schedule.

// TestRetryDelayIsUpstreamsRateLimiter compares retryDelay with the rate
// limiter upstream builds, client-go's
// NewTypedItemExponentialFailureRateLimiter(10ms, 5m), failure by failure.
func TestRetryDelayIsUpstreamsRateLimiter(t *testing.T) {
	rl := workqueue.NewTypedItemExponentialFailureRateLimiter[string](10*time.Millisecond, 5*time.Minute)
	for failures := range 80 {
		require.Equal(t, rl.When("key"), retryDelay(failures), "after %d failures", failures)
	}
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{{0, 10 * time.Millisecond}, {1, 20 * time.Millisecond}, {14, 163840 * time.Millisecond}, {15, 5 * time.Minute}, {1000, 5 * time.Minute}} {
		require.Equal(t, tc.want, retryDelay(tc.failures), "after %d failures", tc.failures)
	}
}

// TestReloadsOn: upstream reloads on an event naming the file; the lab also
// on the ConfigMap volume's ..data swap, and on nothing else.
func TestReloadsOn(t *testing.T) {
	const path = "/etc/eks/pod-identity/config.json"
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"/etc/eks/pod-identity/config.json", true},
		{"/etc/eks/pod-identity/..data", true},
		{"/etc/eks/pod-identity/..data_tmp", false},
		{"/etc/eks/pod-identity/..2026_01_02_03_04_05.123456789", false},
		{"/etc/eks/pod-identity/other.json", false},
		{"/etc/eks/config.json", false},
		{"/etc/eks/pod-identity", false},
		{"", false},
	} {
		require.Equal(t, tc.want, reloadsOn(path, tc.name), tc.name)
	}
}

// reloaderOn starts the watch loop on file with events the test sends.
// Sending an event returns once the loop has taken it, so the event sent
// after it is handled only when it is done: barrier sends such a
// second event, one that reloads nothing.
func reloaderOn(t *testing.T, file string) (ids *identities, send func(name string), barrier func(), logs *logBuffer) {
	t.Helper()
	logs = &logBuffer{}
	ids = &identities{path: file, log: newTestLogger(logs)}
	r := ids.newReloader()
	r.reload()
	events := make(chan fsnotify.Event)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx, events, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	send = func(name string) { events <- fsnotify.Event{Name: name, Op: fsnotify.Write} }
	barrier = func() {
		send(filepath.Join(filepath.Dir(file), "unrelated"))
		send(filepath.Join(filepath.Dir(file), "unrelated"))
	}
	return ids, send, barrier, logs
}

func identitiesJSON(pairs ...string) string {
	var ids []map[string]string
	for _, p := range pairs {
		ns, sa, _ := strings.Cut(p, "/")
		ids = append(ids, map[string]string{"namespace": ns, "serviceAccount": sa})
	}
	raw, _ := json.Marshal(map[string]any{"identities": ids})
	return string(raw)
}

// TestReloadOnlyOnEvents: a changed file is not read again until an event
// names it (or the ConfigMap's ..data); then it is, at once.
func TestReloadOnlyOnEvents(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.json")
	writeFile(t, file, identitiesJSON("a/x"))
	ids, send, barrier, logs := reloaderOn(t, file)
	require.Equal(t, setOf("a/x"), ids.snapshot(), "loaded before the loop runs")

	writeFile(t, file, identitiesJSON("a/x", "b/y"))
	barrier()
	require.Equal(t, setOf("a/x"), ids.snapshot(), "no event named the file: nothing re-read")

	send(file)
	barrier()
	require.Equal(t, setOf("a/x", "b/y"), ids.snapshot(), "the event naming the file loaded it")

	writeFile(t, file, identitiesJSON("c/z"))
	send(filepath.Join(dir, "..data"))
	barrier()
	require.Equal(t, setOf("c/z"), ids.snapshot(), "the ConfigMap swap loaded it")

	require.Equal(t, 3, strings.Count(logs.String(), `"msg":"`+ConfigLoadMessage+`"`), logs.String())
	require.Contains(t, logs.String(), `"sha256":"`+ConfigDigest([]byte(identitiesJSON("c/z")))+`"`)
}

// TestReloadRetriesAFailedLoad: content that does not parse keeps the
// identities and is tried again on upstream's schedule with no event; an
// event meanwhile loads at once.
func TestReloadRetriesAFailedLoad(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, file, identitiesJSON("a/x"))
	ids, send, barrier, logs := reloaderOn(t, file)

	writeFile(t, file, `{"identities":[`)
	send(file)
	barrier()
	require.Equal(t, setOf("a/x"), ids.snapshot(), "a file that does not parse keeps the identities")
	require.Contains(t, logs.String(), `"retry_in":"10ms"`)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"retry_in":"40ms"`) }, 10*time.Second, 5*time.Millisecond,
		"retried with no event, 10 ms, 20 ms, 40 ms ...: %s", logs.String())

	// Fixed: the next retry loads it, no event needed. Written whole
	// (rename): a retry that read os.WriteFile's truncated file would load
	// zero bytes, no identities, and stop retrying, and no event comes
	// here to load the rest.
	writeFileWhole(t, file, identitiesJSON("b/y"))
	require.Eventually(t, func() bool { return ids.has("b", "y") }, 10*time.Second, 5*time.Millisecond)

	// A fresh failure starts the schedule again at 10 ms.
	before := strings.Count(logs.String(), `"retry_in":"10ms"`)
	writeFile(t, file, "bad")
	send(file)
	barrier()
	require.Equal(t, before+1, strings.Count(logs.String(), `"retry_in":"10ms"`), logs.String())
	writeFile(t, file, identitiesJSON("c/z"))
	send(file)
	barrier()
	require.Equal(t, setOf("c/z"), ids.snapshot(), "an event during the back-off loads at once")
}

// writeFileWhole replaces path with content in one rename.
func writeFileWhole(t *testing.T, path, content string) {
	t.Helper()
	writeFile(t, path+".tmp", content)
	require.NoError(t, os.Rename(path+".tmp", path))
}

// swapConfigMap publishes content as a ConfigMap volume's new version: a
// new timestamped directory, ..data_tmp pointing at it renamed over ..data
// (the kubelet's AtomicWriter), the file a symlink through ..data.
func swapConfigMap(t *testing.T, dir, name, content string, version int) {
	t.Helper()
	ts := fmt.Sprintf("..2026_01_01_00_00_%02d.000000001", version)
	require.NoError(t, os.Mkdir(filepath.Join(dir, ts), 0o755))
	writeFile(t, filepath.Join(dir, ts, name), content)
	require.NoError(t, os.Symlink(ts, filepath.Join(dir, "..data_tmp")))
	require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	if _, err := os.Lstat(filepath.Join(dir, name)); os.IsNotExist(err) {
		require.NoError(t, os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)))
	}
}

// TestWatchSeesWritesAndConfigMapSwaps runs the real watch (fsnotify, as
// upstream) on a file written in place, replaced, removed, and on a
// ConfigMap volume's swap, with upstream's 10 s patience; it logs how long
// each change took to load.
func TestWatchSeesWritesAndConfigMapSwaps(t *testing.T) {
	t.Run("in place", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "config.json")
		ids := &identities{path: file, log: newTestLogger(&logBuffer{})}
		stop, err := ids.watch(t.Context())
		require.NoError(t, err)
		t.Cleanup(stop)
		require.Empty(t, ids.snapshot(), "no file: no identities")
		for i, step := range []struct {
			name   string
			change func()
			want   map[identity]bool
		}{
			{"created", func() { writeFile(t, file, identitiesJSON("a/x")) }, setOf("a/x")},
			{"written", func() { writeFile(t, file, identitiesJSON("a/x", "b/y")) }, setOf("a/x", "b/y")},
			{"replaced by rename", func() {
				tmp := file + ".tmp"
				writeFile(t, tmp, identitiesJSON("c/z"))
				require.NoError(t, os.Rename(tmp, file))
			}, setOf("c/z")},
			{"removed", func() { require.NoError(t, os.Remove(file)) }, setOf()},
		} {
			start := time.Now()
			step.change()
			requireIdentities(t, ids, step.want)
			t.Logf("step %d (%s) loaded %v after the change", i, step.name, time.Since(start))
		}
	})
	t.Run("ConfigMap volume", func(t *testing.T) {
		dir := t.TempDir()
		swapConfigMap(t, dir, "config.json", identitiesJSON("a/x"), 1)
		ids := &identities{path: filepath.Join(dir, "config.json"), log: newTestLogger(&logBuffer{})}
		stop, err := ids.watch(t.Context())
		require.NoError(t, err)
		t.Cleanup(stop)
		require.Equal(t, setOf("a/x"), ids.snapshot())
		start := time.Now()
		swapConfigMap(t, dir, "config.json", identitiesJSON("a/x", "b/y"), 2)
		requireIdentities(t, ids, setOf("a/x", "b/y"))
		t.Logf("the swap loaded %v after it", time.Since(start))
	})
}

// TestConfigMapSwapNamesNoFile records why the lab also reloads on ..data:
// the events of a ConfigMap volume's swap, as fsnotify reports them on the
// directory, never name the file, so upstream's rule (event.Name == path)
// would keep the first version for good.
func TestConfigMapSwapNamesNoFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.json")
	swapConfigMap(t, dir, "config.json", identitiesJSON("a/x"), 1)
	w, err := fsnotify.NewWatcher()
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, w.Add(dir))
	swapConfigMap(t, dir, "config.json", identitiesJSON("b/y"), 2)
	sentinel := filepath.Join(dir, "sentinel")
	writeFile(t, sentinel, "done")
	var names []string
	timeout := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case e := <-w.Events:
			names = append(names, e.Name)
			seen = e.Name == sentinel
		case err := <-w.Errors:
			require.NoError(t, err)
		case <-timeout:
			t.Fatalf("no event for the sentinel; saw %v", names)
		}
	}
	require.NotContains(t, names, file, "upstream's rule would reload on one of %v", names)
	require.Contains(t, names, filepath.Join(dir, "..data"), "the swap's rename names ..data: %v", names)
}

// TestWatchNeedsTheDirectory: upstream exits when it cannot watch the
// file's directory; the Handler cannot be made.
func TestWatchNeedsTheDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "missing", "config.json")
	_, err := New(t.Context(), Options{Client: fakeClient(), ContainerCredentials: ContainerCredentialsOptions{ConfigFile: file}})
	require.ErrorContains(t, err, "watch container credentials config "+file)
}
