package cloud

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/idlab/idlab/internal/decisionlog"
)

// AdminPrefix starts every path of the admin API. It means nothing on the
// cloud listener: there /_idlab/... is whatever the addressed cloud makes
// of it (an S3 key, an unknown STS action ...).
const AdminPrefix = "/_idlab/"

// AdminHandler is the lab's control plane: the emulators' admin APIs, the
// clock, the instances' metadata options and health, under AdminPrefix. It
// does not check the admin secret; Start serves it behind the secret on
// Config.AdminListen, and Go tests may call it in process.
func (c *Cloud) AdminHandler() http.Handler { return http.HandlerFunc(c.serveAdmin) }

// serveAdmin routes an admin path to its owner: the registered service
// whose adminPrefix it starts with, else the lab's own (IMDS, clock,
// health).
func (c *Cloud) serveAdmin(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	for _, s := range services {
		if s.admin != nil && strings.HasPrefix(p, s.adminPrefix) {
			s.admin(c).ServeHTTP(w, r)
			return
		}
	}
	switch {
	case p == "/_idlab/decisions":
		// Every emulator's decisions, one log, one cursor (decisionlog.ParseQuery).
		decisionlog.Handler(c.Decisions).ServeHTTP(w, r)
	case strings.HasPrefix(p, IMDSAdminPrefix):
		c.serveIMDSAdmin(w, r)
	case p == "/_idlab/clock":
		c.serveClock(w, r)
	case p == "/_idlab/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	default:
		adminNotFound(w, p)
	}
}

// adminNotFound answers an admin path no one serves.
func adminNotFound(w http.ResponseWriter, p string) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "NotFound", "message": "no admin endpoint " + p})
}

// serveClock: GET reads the lab time; POST ?advance=90s (or seconds=N) moves
// it for every emulator. Three forms move time for one party only, so a
// suite can expire its own credentials while others run (tokens,
// signatures and every other credential keep lab time):
//
//   - ?advance=D&role=ARN: the credentials already issued to the role's STS
//     sessions expire D sooner (awsiam.AgeSessions);
//   - ?sessionAge=D&role=ARN: the sessions issued to the role from then on
//     start D old (awsiam.SetSessionAge), so a 900 s session ends 900 s - D
//     after it is issued; 0 ends it;
//   - ?ahead=D&app=CLIENT_ID: Entra checks that app's client assertions D
//     ahead of the lab clock (entra.Handler.SetAssertionClock); 0 ends it.
//
// The last two set rather than add, so a suite that runs again sets the
// same thing.
func (c *Cloud) serveClock(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		q := r.URL.Query()
		if q.Has("sessionAge") || q.Has("ahead") || q.Get("app") != "" {
			c.serveOnePartyClock(w, q)
			return
		}
		d, err := parseAdvance(q)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "InvalidParameter", "message": err.Error()})
			return
		}
		if role := q.Get("role"); role != "" {
			if _, err := c.IAM.Role(role); err != nil {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": "NoSuchEntity", "message": "no role " + role})
				return
			}
			n := c.IAM.AgeSessions(role, d)
			c.log.Info("clock advanced for one role's sessions", "role", role, "by", d, "sessions", n)
			writeJSON(w, http.StatusOK, map[string]any{"role": role, "advancedSeconds": int64(d / time.Second), "sessionsAged": n})
			return
		}
		c.Clock.Advance(d)
		c.log.Info("clock advanced", "by", d, "offset", c.Clock.Offset())
	default:
		w.Header().Set("Allow", "GET, POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "MethodNotAllowed"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"now": c.Clock.Now().UTC().Format(time.RFC3339), "offsetSeconds": int64(c.Clock.Offset() / time.Second)})
}

// serveOnePartyClock serves ?sessionAge=D&role=ARN and ?ahead=D&app=ID.
func (c *Cloud) serveOnePartyClock(w http.ResponseWriter, q url.Values) {
	bad := func(status int, code, msg string) {
		writeJSON(w, status, map[string]string{"error": code, "message": msg})
	}
	role, app := q.Get("role"), q.Get("app")
	var param string
	switch {
	case q.Has("advance") || q.Has("seconds"):
	case role != "" && app == "" && q.Has("sessionAge") && !q.Has("ahead"):
		param = "sessionAge"
	case app != "" && role == "" && q.Has("ahead") && !q.Has("sessionAge"):
		param = "ahead"
	}
	if param == "" {
		bad(http.StatusBadRequest, "InvalidParameter", "give sessionAge=DURATION with role=ARN, or ahead=DURATION with app=CLIENT_ID, and nothing else")
		return
	}
	d, err := time.ParseDuration(q.Get(param))
	if err != nil || d < 0 {
		bad(http.StatusBadRequest, "InvalidParameter", fmt.Sprintf("%s %q: want a Go duration of 0 or more, such as 11m", param, q.Get(param)))
		return
	}
	if role != "" {
		if _, err := c.IAM.Role(role); err != nil {
			bad(http.StatusNotFound, "NoSuchEntity", "no role "+role)
			return
		}
		c.IAM.SetSessionAge(role, d)
		c.log.Info("sessions of one role issued old", "role", role, "age", d)
		writeJSON(w, http.StatusOK, map[string]any{"role": role, "sessionAgeSeconds": int64(d / time.Second)})
		return
	}
	if c.Entra == nil {
		bad(http.StatusNotFound, "NotFound", "this lab runs no Entra emulator")
		return
	}
	if !c.Entra.SetAssertionClock(app, d) {
		bad(http.StatusNotFound, "NotFound", "no Entra app "+app)
		return
	}
	c.log.Info("one app's client assertions checked ahead", "app", app, "ahead", d)
	writeJSON(w, http.StatusOK, map[string]any{"app": app, "aheadSeconds": int64(d / time.Second)})
}

func parseAdvance(q url.Values) (time.Duration, error) {
	if s := q.Get("advance"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("advance %q: want a positive Go duration such as 90m", s)
		}
		return d, nil
	}
	if s := q.Get("seconds"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("seconds %q: want a positive integer", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	return 0, errors.New("give advance=DURATION or seconds=N")
}

// requireSecret passes on only requests carrying Authorization: Bearer
// secret (compared in constant time); the rest get 401 and a JSON error.
// Health is no exception: a health check that passes then proves the
// caller holds the right secret too.
func requireSecret(secret string, next http.Handler) http.Handler {
	want := []byte("Bearer " + secret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="idlab-admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Unauthorized",
				"message": "the idlab admin API needs Authorization: Bearer <the lab's admin secret>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminPlane is the admin listener and its server, once started.
type adminPlane struct {
	ln  net.Listener
	srv *http.Server
}

// maxSocketPath is the longest Unix socket path Linux takes (sun_path is
// 108 bytes with its terminating NUL).
const maxSocketPath = 107

// ParseAdminListen checks an admin listen address and returns the network
// and address to listen on: "unix:PATH" is a Unix socket, anything else a
// TCP address whose host must be a loopback IP. The admin API never listens
// where another machine, or a container on the lab's network, could reach it.
func ParseAdminListen(addr string) (network, address string, err error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return "", "", fmt.Errorf("admin listen address %q: unix: needs a socket path", addr)
		}
		if len(path) > maxSocketPath {
			return "", "", fmt.Errorf("admin listen address %q: a Unix socket path may be at most %d bytes, this one is %d (use a shorter state or data dir)", addr, maxSocketPath, len(path))
		}
		return "unix", path, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("admin listen address %q: want unix:PATH or LOOPBACK-IP:PORT: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", "", fmt.Errorf("admin listen address %q: %q is not a loopback IP; the admin API listens only on a Unix socket (unix:PATH) or a loopback address (127.0.0.1:PORT, [::1]:PORT)", addr, host)
	}
	return "tcp", addr, nil
}

// startAdmin serves the admin API behind the secret on Config.AdminListen.
func (c *Cloud) startAdmin() error {
	network, address, err := ParseAdminListen(c.cfg.AdminListen)
	if err != nil {
		return err
	}
	if network == "unix" {
		if err := removeStaleSocket(address); err != nil {
			return err
		}
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return fmt.Errorf("admin listener %s: %w", c.cfg.AdminListen, err)
	}
	if network == "unix" {
		// The secret is the gate, not the file mode: in the lab the
		// emulator runs as root in its container while the host user who
		// drives the lab may not be root, and a socket's peer needs write
		// permission on it to connect.
		if err := os.Chmod(address, 0o666); err != nil {
			_ = ln.Close()
			return fmt.Errorf("admin socket %s: %w", address, err)
		}
	}
	srv := &http.Server{Handler: requireSecret(c.cfg.AdminSecret, c.AdminHandler()), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(c.log.Handler(), slog.LevelDebug)}
	c.mu.Lock()
	c.admin = adminPlane{ln: ln, srv: srv}
	c.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("admin serve", "err", err)
		}
	}()
	return nil
}

// removeStaleSocket removes a socket file no server answers on (left by a
// killed process or a restarted container); a live one is an error.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("admin socket %s: exists and is not a socket", path)
	}
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		_ = conn.Close()
		return fmt.Errorf("admin socket %s: another server answers on it", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale admin socket %s: %w", path, err)
	}
	return nil
}

// closeAdmin stops the admin server; the listener removes its socket file.
func (c *Cloud) closeAdmin(ctx context.Context) error {
	c.mu.RLock()
	srv := c.admin.srv
	c.mu.RUnlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// AdminAddr is where the running admin listener is ("unix:PATH" or
// "127.0.0.1:PORT", the port chosen when Config.AdminListen asked for 0),
// or "" when there is none.
func (c *Cloud) AdminAddr() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.admin.ln == nil {
		return ""
	}
	if a := c.admin.ln.Addr(); a.Network() == "unix" {
		return "unix:" + a.String()
	}
	return c.admin.ln.Addr().String()
}

// adminHost is the host name admin request URLs carry when the admin API
// is on a Unix socket.
const adminHost = "idlab-admin"

// NewAdminClient returns a client for the admin listener at addr (as
// AdminAddr gives it) that presents secret on every request, and the base
// URL admin paths go after (base + "/_idlab/healthz").
func NewAdminClient(addr, secret string) (client *http.Client, base string, err error) {
	network, address, err := ParseAdminListen(addr)
	if err != nil {
		return nil, "", err
	}
	base = "http://" + address
	if network == "unix" {
		base = "http://" + adminHost
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	return NewAdminClientDial(func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, network, address) }, secret), base, nil
}

// NewAdminClientDial is NewAdminClient over connections dial opens, such
// as a port-forward to an emulator inside a cluster: base URLs are then
// http://ANY-HOST, the connection deciding where requests go.
func NewAdminClientDial(dial func(ctx context.Context) (net.Conn, error), secret string) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }}
	return &http.Client{Timeout: 15 * time.Second, Transport: bearer{secret: secret, next: tr}}
}

// bearer adds the admin secret to each request.
type bearer struct {
	secret string
	next   http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.secret)
	return b.next.RoundTrip(r)
}

// adminSecretBytes is the size of a generated admin secret.
const adminSecretBytes = 32

// LoadOrCreateAdminSecret returns the admin secret kept in path, creating
// the file (32 random bytes as hex, mode 0600) when there is none yet.
// Whoever comes first creates it (the harness before it starts the
// emulator's container, `idlab serve` when run alone); a creator racing
// another never sees a half-written file.
func LoadOrCreateAdminSecret(path string) (string, error) {
	s, err := ReadAdminSecret(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	raw := make([]byte, adminSecretBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("admin secret: %w", err)
	}
	if err := createOnce(path, []byte(hex.EncodeToString(raw)+"\n")); err != nil {
		return "", err
	}
	return ReadAdminSecret(path)
}

// createOnce writes data to a temporary file beside path and links it into
// place, so path appears whole or not at all; when path exists already it
// is left as it is.
func createOnce(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("admin secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("admin secret: %w", err)
	}
	// CreateTemp made it 0600.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("admin secret: %w", err)
	}
	return nil
}

// ReadAdminSecret reads the admin secret file at path. It refuses a file
// that group or others may read, or that does not hold 64 hex digits.
func ReadAdminSecret(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("admin secret: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("admin secret %s: mode %v lets others read it; want 0600", path, fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin secret: %w", err)
	}
	s := strings.TrimSpace(string(raw))
	if b, err := hex.DecodeString(s); err != nil || len(b) != adminSecretBytes {
		return "", fmt.Errorf("admin secret %s: want %d hex digits", path, 2*adminSecretBytes)
	}
	return s, nil
}
