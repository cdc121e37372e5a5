package cloud

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseAdminListen(t *testing.T) {
	long := "unix:/" + strings.Repeat("d", maxSocketPath)
	tests := []struct {
		addr, network, address, err string
	}{
		{"unix:/run/idlab/admin.sock", "unix", "/run/idlab/admin.sock", ""},
		{"unix:admin.sock", "unix", "admin.sock", ""},
		{"127.0.0.1:0", "tcp", "127.0.0.1:0", ""},
		{"127.0.0.2:9443", "tcp", "127.0.0.2:9443", ""},
		{"[::1]:9443", "tcp", "[::1]:9443", ""},
		{"unix:", "", "", "needs a socket path"},
		{long, "", "", "at most 107 bytes"},
		{"0.0.0.0:9443", "", "", "not a loopback IP"},
		{"172.18.0.2:9443", "", "", "not a loopback IP"},
		{"[::]:9443", "", "", "not a loopback IP"},
		{":9443", "", "", "not a loopback IP"},
		{"localhost:9443", "", "", "not a loopback IP"},
		{"127.0.0.1", "", "", "want unix:PATH or LOOPBACK-IP:PORT"},
		{"", "", "", "want unix:PATH or LOOPBACK-IP:PORT"},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			network, address, err := ParseAdminListen(tc.addr)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.network, network)
			require.Equal(t, tc.address, address)
		})
	}
}

func TestNewRefusesBadAdminConfig(t *testing.T) {
	dir := t.TempDir()
	_, err := New(Config{DataDir: dir, AdminListen: "0.0.0.0:9443", AdminSecret: testAdminSecret})
	require.ErrorContains(t, err, "not a loopback IP")
	_, err = New(Config{DataDir: dir, AdminListen: "127.0.0.1:0"})
	require.ErrorContains(t, err, "AdminSecret is required")
}

func TestRequireSecret(t *testing.T) {
	h := requireSecret(testAdminSecret, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"right secret", "Bearer " + testAdminSecret, http.StatusTeapot},
		{"none", "", http.StatusUnauthorized},
		{"wrong secret", "Bearer " + strings.Repeat("f", 64), http.StatusUnauthorized},
		{"secret without scheme", testAdminSecret, http.StatusUnauthorized},
		{"other scheme", "Basic " + testAdminSecret, http.StatusUnauthorized},
		{"prefix of the secret", "Bearer " + testAdminSecret[:32], http.StatusUnauthorized},
		{"secret and more", "Bearer " + testAdminSecret + "0", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/_idlab/healthz", nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			h.ServeHTTP(w, r)
			require.Equal(t, tc.want, w.Code)
			if tc.want == http.StatusUnauthorized {
				require.JSONEq(t, `{"error":"Unauthorized","message":"the idlab admin API needs Authorization: Bearer <the lab's admin secret>"}`, w.Body.String())
				require.Equal(t, `Bearer realm="idlab-admin"`, w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func TestAdminListenerOnLoopbackTCP(t *testing.T) {
	c, _ := startCloudFor(t, testIssuer, "accounts: []\n", func(cfg *Config) { cfg.AdminListen = "127.0.0.1:0" })
	host, port, err := net.SplitHostPort(c.AdminAddr())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host)
	require.NotEqual(t, "0", port)
	status, body := adminDo(t, c, http.MethodGet, "/_idlab/healthz", "")
	require.Equal(t, http.StatusOK, status, body)
	status, _ = adminDoAs(t, c, "", http.MethodGet, "/_idlab/healthz", "")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, c.Endpoints()["admin"], c.AdminAddr())
}

func TestAdminSocket(t *testing.T) {
	c, _ := startCloud(t)
	addr := c.AdminAddr()
	path, ok := strings.CutPrefix(addr, "unix:")
	require.True(t, ok, addr)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o666), fi.Mode().Perm(), "any local user may connect; the secret is the gate")
	status, body := adminDoAs(t, c, "", http.MethodGet, "/_idlab/healthz", "")
	require.Equal(t, http.StatusUnauthorized, status, body)

	// A second server refuses the live socket, and takes over a stale one.
	_, err = listenAgain(t, path)
	require.ErrorContains(t, err, "another server answers on it")
	require.NoError(t, c.closeAdmin(t.Context()))
	_, statErr := os.Stat(path)
	require.ErrorIs(t, statErr, os.ErrNotExist, "closing removes the socket")

	stale := filepath.Join(socketDir(t), "stale.sock")
	ln, err := net.Listen("unix", stale)
	require.NoError(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())
	_, err = os.Stat(stale)
	require.NoError(t, err, "a killed server leaves its socket")
	c2, err := listenAgain(t, stale)
	require.NoError(t, err)
	status, body = adminDo(t, c2, http.MethodGet, "/_idlab/healthz", "")
	require.Equal(t, http.StatusOK, status, body)

	notSocket := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notSocket, nil, 0o600))
	_, err = listenAgain(t, notSocket)
	require.ErrorContains(t, err, "is not a socket")
}

// listenAgain starts a cloud whose admin listener is the socket at path.
func listenAgain(t *testing.T, path string) (*Cloud, error) {
	t.Helper()
	c, err := New(Config{DataDir: t.TempDir(), AdminListen: "unix:" + path, AdminSecret: testAdminSecret})
	require.NoError(t, err)
	err = c.Start()
	t.Cleanup(func() { _ = c.Close(t.Context()) })
	return c, err
}

func TestAdminSecretFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin.secret")
	s, err := LoadOrCreateAdminSecret(path)
	require.NoError(t, err)
	require.Len(t, s, 64)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	again, err := LoadOrCreateAdminSecret(path)
	require.NoError(t, err)
	require.Equal(t, s, again, "created once, then read")
	read, err := ReadAdminSecret(path)
	require.NoError(t, err)
	require.Equal(t, s, read)
	other, err := LoadOrCreateAdminSecret(filepath.Join(dir, "other.secret"))
	require.NoError(t, err)
	require.NotEqual(t, s, other, "each lab its own secret")
	leftovers, err := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
	require.NoError(t, err)
	require.Empty(t, leftovers)

	// Racing creators all end with the one secret on disk.
	race := filepath.Join(dir, "race.secret")
	got := make([]string, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], _ = LoadOrCreateAdminSecret(race) }()
	}
	wg.Wait()
	onDisk, err := ReadAdminSecret(race)
	require.NoError(t, err)
	for _, g := range got {
		require.Equal(t, onDisk, g)
	}

	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		err           string
	}{
		{"readable by others", s + "\n", 0o644, "lets others read it"},
		{"readable by the group", s + "\n", 0o640, "lets others read it"},
		{"not hex", strings.Repeat("z", 64), 0o600, "want 64 hex digits"},
		{"too short", s[:62], 0o600, "want 64 hex digits"},
		{"empty", "", 0o600, "want 64 hex digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "admin.secret")
			require.NoError(t, os.WriteFile(p, []byte(tc.content), tc.mode))
			require.NoError(t, os.Chmod(p, tc.mode))
			_, err := ReadAdminSecret(p)
			require.ErrorContains(t, err, tc.err)
			_, err = LoadOrCreateAdminSecret(p)
			require.ErrorContains(t, err, tc.err, "a bad file is not replaced")
		})
	}
	_, err = ReadAdminSecret(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
