package idlab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/idlab/idlab/internal/decisionlog"
)

// Decision is one entry of the emulator's decision log; DecisionFilter
// selects entries (zero fields match all).
type (
	Decision       = decisionlog.Entry
	DecisionFilter = decisionlog.Filter
)

// secretBytes is the admin secret's size: what `idlab serve` accepts in
// its secret file (64 hex digits; harness/cloud.ReadAdminSecret).
const secretBytes = 32

// createSecret writes a new admin secret to path, mode 0600, before the
// container starts: the emulator reads it through the mount, so only the
// caller and the emulator know it.
func createSecret(path string) (string, error) {
	raw := make([]byte, secretBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("admin secret: %w", err)
	}
	s := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("admin secret: %w", err)
	}
	return s, nil
}

// adminClient reaches the admin API on its Unix socket with the secret.
type adminClient struct {
	socket, secret string
	http           *http.Client
}

func newAdminClient(socket, secret string) *adminClient {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "unix", socket)
	}}
	return &adminClient{socket: socket, secret: secret, http: &http.Client{Timeout: 15 * time.Second, Transport: tr}}
}

func (c *Container) admin() *adminClient {
	return newAdminClient(filepath.Join(c.dir, adminSocket), c.secret)
}

// ErrAdmin is wrapped by admin calls the emulator answered with a status
// other than 2xx; the error carries the status and the answer.
var ErrAdmin = errors.New("idlab admin API")

// do sends method to an admin path (/_idlab/...) with body as JSON (nil
// for none) and decodes a 2xx answer into out (nil to discard it).
func (a *adminClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://idlab-admin"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.secret)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s %s: HTTP %d: %s", ErrAdmin, method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// healthy is Run's wait strategy: the admin API answers its health check
// with the secret. The admin listener starts last, so the cloud plane
// answers by then too.
type healthy struct {
	admin   *adminClient
	timeout time.Duration
}

// Timeout implements wait.StrategyTimeout.
func (h healthy) Timeout() *time.Duration { return &h.timeout }

// WaitUntilReady polls the health check until it passes, the container
// stops, the secret is refused (waiting will not mend that) or the
// timeout.
func (h healthy) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	var last error
	for {
		err := h.admin.do(ctx, http.MethodGet, "/_idlab/healthz", nil, nil)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrAdmin) {
			return fmt.Errorf("health check: %w", err)
		}
		last = err
		if st, serr := target.State(ctx); serr == nil && !st.Running {
			return fmt.Errorf("container %s (exit code %d) before it was healthy: %w", st.Status, st.ExitCode, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not healthy within %s: %w", h.timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Admin sends method to an admin path of the emulator (/_idlab/...) with
// body as JSON (nil for none) and decodes a 2xx answer into out (nil to
// discard it); any other status is an error wrapping ErrAdmin.
func (c *Container) Admin(ctx context.Context, method, path string, body, out any) error {
	return c.admin().do(ctx, method, path, body, out)
}

// Ready reports whether the emulator answers its health check.
func (c *Container) Ready(ctx context.Context) error {
	return c.Admin(ctx, http.MethodGet, "/_idlab/healthz", nil, nil)
}

// AddIssuer hosts an OIDC issuer with a signing key the emulator keeps.
func (c *Container) AddIssuer(ctx context.Context, issuerURL string) error {
	if err := c.Admin(ctx, http.MethodPost, "/_idlab/oidc/issuers", map[string]string{"url": issuerURL}, nil); err != nil {
		return fmt.Errorf("issuer %s: %w", issuerURL, err)
	}
	q := url.Values{"issuer": {issuerURL}, "signing": {"true"}}
	if err := c.Admin(ctx, http.MethodPost, "/_idlab/oidc/issuers/keys?"+q.Encode(), nil, nil); err != nil {
		return fmt.Errorf("issuer %s: %w", issuerURL, err)
	}
	return nil
}

// TokenRequest asks for a service-account token, as kube-apiserver's
// TokenRequest API issues them.
type TokenRequest struct {
	Issuer         string   `json:"issuer"`
	Namespace      string   `json:"namespace"`
	ServiceAccount string   `json:"serviceAccount"`
	Audiences      []string `json:"audiences"`
	// ExpirationSeconds defaults to an hour, as kube-apiserver's.
	ExpirationSeconds int64 `json:"expirationSeconds,omitempty"`
}

// Token mints a token of a hosted issuer (WithIssuers, AddIssuer).
func (c *Container) Token(ctx context.Context, r TokenRequest) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if err := c.Admin(ctx, http.MethodPost, "/_idlab/oidc/token", r, &out); err != nil {
		return "", fmt.Errorf("token for %s/%s: %w", r.Namespace, r.ServiceAccount, err)
	}
	return out.Token, nil
}

// TokenFile mints a token for namespace/serviceAccount with the audience
// sts.amazonaws.com, as the EKS pod identity webhook projects it, and
// writes it to a new file: a pod's AWS_WEB_IDENTITY_TOKEN_FILE.
// Terminate removes it.
func (c *Container) TokenFile(ctx context.Context, issuer, namespace, serviceAccount string) (string, error) {
	tok, err := c.Token(ctx, TokenRequest{Issuer: issuer, Namespace: namespace, ServiceAccount: serviceAccount,
		Audiences: []string{"sts.amazonaws.com"}})
	if err != nil {
		return "", err
	}
	dir := filepath.Join(c.dir, "tokens")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, filepath.Base(namespace+"-"+serviceAccount)+"-*.jwt")
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(tok)
	return f.Name(), errors.Join(err, f.Close())
}

// Decisions reads the entries of the emulator's decision log that f
// selects, oldest first. Page with f.Since: the Seq of the last entry read.
func (c *Container) Decisions(ctx context.Context, f DecisionFilter) ([]Decision, error) {
	ds := []Decision{}
	if err := c.Admin(ctx, http.MethodGet, "/_idlab/decisions?"+f.Query().Encode(), nil, &ds); err != nil {
		return nil, err
	}
	return ds, nil
}
