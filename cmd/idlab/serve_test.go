package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/cloud"
)

// syncBuffer is a bytes.Buffer safe to read while serve writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeAdminPlane(t *testing.T) {
	dir, err := os.MkdirTemp("", "idlab-serve-") // short: a socket path has at most 107 bytes
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ctx, cancel := context.WithCancel(t.Context())
	var out syncBuffer
	env := &cliEnv{stdout: &out, stderr: io.Discard, log: slog.New(slog.DiscardHandler)}
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, env, []string{"--data-dir", dir, "--https-port", "0"}) }()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "ready") }, 30*time.Second, 50*time.Millisecond)

	secretFile := filepath.Join(dir, "admin.secret")
	require.Contains(t, out.String(), "unix:"+filepath.Join(dir, "admin.sock"), "serve prints the admin address")
	require.Contains(t, out.String(), secretFile, "and the secret file")
	fi, err := os.Stat(secretFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	secret, err := cloud.ReadAdminSecret(secretFile)
	require.NoError(t, err)
	client, base, err := cloud.NewAdminClient("unix:"+filepath.Join(dir, "admin.sock"), secret)
	require.NoError(t, err)
	resp, err := client.Get(base + "/_idlab/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}

	// A restart keeps the secret the first start made.
	require.NoError(t, adminDefaults(&cloud.Config{DataDir: dir}, new(string)))
	again, err := cloud.ReadAdminSecret(secretFile)
	require.NoError(t, err)
	require.Equal(t, secret, again)
}

func TestServeRefusesAnOpenAdminAddress(t *testing.T) {
	env := &cliEnv{stdout: io.Discard, stderr: io.Discard, log: slog.New(slog.DiscardHandler)}
	err := runServe(t.Context(), env, []string{"--data-dir", t.TempDir(), "--https-port", "0", "--admin-listen", "0.0.0.0:9443"})
	require.ErrorContains(t, err, `"0.0.0.0" is not a loopback IP`)
}
