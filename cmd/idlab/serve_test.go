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

func TestServeConfigFileAndFlags(t *testing.T) {
	env := &cliEnv{stdout: io.Discard, stderr: io.Discard, log: slog.New(slog.DiscardHandler)}
	// The flags the harness spelled out before it wrote a config file.
	imds := "name=eks,port=8081,bridge-port=8082,role=arn:aws:iam::123456789012:role/node,instance-id=i-0abc,region=us-west-2,hop-limit=1,http-tokens=required"
	flags := []string{"--data-dir", "/data/serve", "--fixtures", "/data/fixtures", "--issuers", "/data/issuers.yaml",
		"--listen", "0.0.0.0", "--https-port", "443", "--region", "us-west-2",
		"--admin-listen", "unix:/data/admin.sock", "--admin-secret-file", "/data/admin.secret",
		"--gcp-fixtures", "/data/fixtures-gcp", "--eks-fixtures", "/data/fixtures-eks", "--azure-fixtures", "/data/fixtures-azure", "--imds", imds, "--fsync", "--log-decisions"}
	fromFlags, err := serveConfig(env, flags)
	require.NoError(t, err)
	require.True(t, fromFlags.Fsync)
	require.True(t, fromFlags.LogDecisions)
	file := filepath.Join(t.TempDir(), "serve.yaml")
	require.NoError(t, cloud.WriteServeConfig(file, fromFlags))
	fromFile, err := serveConfig(env, []string{"--config", file})
	require.NoError(t, err)
	require.Equal(t, fromFlags, fromFile, "the file says what the flags said")

	// Flags given explicitly override the file; the rest keeps its values.
	over, err := serveConfig(env, []string{"--region", "eu-west-1", "--config", file, "--imds", "name=b,port=1,bridge-port=2"})
	require.NoError(t, err)
	require.Equal(t, "eu-west-1", over.Region)
	require.Equal(t, []cloud.IMDSConfig{{Name: "b", Port: 1, BridgePort: 2}}, over.IMDS, "--imds replaces the file's list")
	over.Region, over.IMDS = fromFile.Region, fromFile.IMDS
	require.Equal(t, fromFile, over)

	// No file, no flags: the documented defaults.
	def, err := serveConfig(env, nil)
	require.NoError(t, err)
	require.Equal(t, cloud.DefaultRegion, def.Region)
	require.Equal(t, cloud.DefaultServeConfig(), def)
	require.False(t, def.Fsync, "no fsync unless asked")
	require.False(t, def.LogDecisions, "no decision lines unless asked")

	require.NoError(t, os.WriteFile(file, []byte("regoin: us-west-2\n"), 0o644))
	_, err = serveConfig(env, []string{"--config", file})
	require.ErrorContains(t, err, `unknown field "regoin"`)
	_, err = serveConfig(env, []string{"--config", file + ".absent"})
	require.ErrorContains(t, err, "no such file")
}

func TestPprofListensOnLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true},
		{"[::1]:0", true},
		{"0.0.0.0:0", false},
		{":0", false},
		{"10.0.0.1:0", false},
		{"localhost", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			addr, stop, err := startPprof(tc.addr)
			if !tc.ok {
				require.Error(t, err)
				return
			}
			if err != nil && strings.Contains(err.Error(), "cannot assign") {
				t.Logf("no %s on this machine: %v", tc.addr, err) // IPv6 loopback may be off
				return
			}
			require.NoError(t, err)
			defer stop()
			resp, err := http.Get("http://" + addr + "/debug/pprof/heap")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			resp, err = http.Get("http://" + addr + "/debug/pprof/profile?seconds=0")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		})
	}
}
