package jwtverify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// maxDocument bounds discovery and JWKS bodies read from an issuer.
const maxDocument = 1 << 20

// DefaultKeyTTL is how long fetched keys are reused before refetching.
const DefaultKeyTTL = 5 * time.Minute

// DiscoveryKeys fetches keys the way AWS STS does for IAM OIDC providers:
// GET {iss}/.well-known/openid-configuration over HTTPS, check that the
// document's issuer equals iss exactly, then GET its jwks_uri (HTTPS only).
// Results are cached per issuer for TTL.
type DiscoveryKeys struct {
	Client *http.Client     // Defaults to http.DefaultClient.
	Now    func() time.Time // Defaults to time.Now.
	TTL    time.Duration    // Defaults to DefaultKeyTTL.

	mu    sync.Mutex
	cache map[string]cachedKeys
}

type cachedKeys struct {
	keys    *jose.JSONWebKeySet
	fetched time.Time
}

// Keys returns the issuer's JWKS, from cache when fresh.
func (d *DiscoveryKeys) Keys(ctx context.Context, issuer string) (*jose.JSONWebKeySet, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	ttl := d.TTL
	if ttl == 0 {
		ttl = DefaultKeyTTL
	}
	d.mu.Lock()
	c, ok := d.cache[issuer]
	d.mu.Unlock()
	if ok && now().Sub(c.fetched) < ttl {
		return c.keys, nil
	}
	ks, err := d.fetch(ctx, issuer)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.cache == nil {
		d.cache = map[string]cachedKeys{}
	}
	d.cache[issuer] = cachedKeys{keys: ks, fetched: now()}
	d.mu.Unlock()
	return ks, nil
}

// Forget drops the cached keys of issuer (after a signing-key rotation).
func (d *DiscoveryKeys) Forget(issuer string) {
	d.mu.Lock()
	delete(d.cache, issuer)
	d.mu.Unlock()
}

func (d *DiscoveryKeys) fetch(ctx context.Context, issuer string) (*jose.JSONWebKeySet, error) {
	if err := requireHTTPS(issuer); err != nil {
		return nil, err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	discovery := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	if err := d.getJSON(ctx, discovery, &doc); err != nil {
		return nil, err
	}
	if doc.Issuer != issuer {
		return nil, fail(CodeKeyFetch, "discovery document at %s names issuer %q, want %q", discovery, doc.Issuer, issuer)
	}
	if err := requireHTTPS(doc.JWKSURI); err != nil {
		return nil, err
	}
	var ks jose.JSONWebKeySet
	if err := d.getJSON(ctx, doc.JWKSURI, &ks); err != nil {
		return nil, err
	}
	return &ks, nil
}

func requireHTTPS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fail(CodeKeyFetch, "%q is not an https URL", raw)
	}
	return nil
}

func (d *DiscoveryKeys) getJSON(ctx context.Context, u string, v any) error {
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return &Error{Code: CodeKeyFetch, Msg: "build request for " + u, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return &Error{Code: CodeKeyFetch, Msg: "GET " + u, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(CodeKeyFetch, "GET %s: HTTP %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return &Error{Code: CodeKeyFetch, Msg: "read " + u, Err: err}
	}
	if len(body) > maxDocument {
		return fail(CodeKeyFetch, "GET %s: body larger than %d bytes", u, maxDocument)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &Error{Code: CodeKeyFetch, Msg: fmt.Sprintf("GET %s: not the expected JSON", u), Err: err}
	}
	return nil
}
