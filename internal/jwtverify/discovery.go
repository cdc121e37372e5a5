package jwtverify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Limits and defaults of DiscoveryKeys.
const (
	// MaxDocumentSize bounds discovery and JWKS bodies read from an issuer.
	MaxDocumentSize = 1 << 20
	// DefaultKeyTTL is how long fetched keys are reused before refetching.
	DefaultKeyTTL = 5 * time.Minute
	// DefaultRefreshInterval is the least time between two fetches for one
	// issuer triggered by a token whose kid is not in the cached JWKS.
	DefaultRefreshInterval = 10 * time.Second
	// DefaultFetchTimeout caps one discovery + JWKS fetch when the caller's
	// context has no earlier deadline.
	DefaultFetchTimeout = 10 * time.Second
)

// DiscoveryKeys fetches keys the way AWS STS does for IAM OIDC providers:
// GET {iss}/.well-known/openid-configuration over HTTPS, check that the
// document's issuer equals iss exactly, then GET its jwks_uri (HTTPS only).
// Results are cached per issuer for TTL; a token whose kid is not cached
// triggers a refetch at most once per RefreshInterval (see Refresh). The zero
// value is ready to use and safe for concurrent use.
type DiscoveryKeys struct {
	Client *http.Client     // Defaults to http.DefaultClient.
	Now    func() time.Time // Defaults to time.Now.
	TTL    time.Duration    // Defaults to DefaultKeyTTL.
	// RefreshInterval rate-limits refetches on an unknown kid.
	// Defaults to DefaultRefreshInterval; negative means no limit.
	RefreshInterval time.Duration

	mu      sync.Mutex
	issuers map[string]*issuerKeys
}

// issuerKeys is the cache entry of one issuer; fetchMu serialises fetches so
// concurrent verifications of a cold issuer cause one fetch.
type issuerKeys struct {
	fetchMu sync.Mutex
	mu      sync.Mutex
	keys    *jose.JSONWebKeySet
	fetched time.Time
}

func (d *DiscoveryKeys) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *DiscoveryKeys) entry(issuer string) *issuerKeys {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.issuers == nil {
		d.issuers = map[string]*issuerKeys{}
	}
	e, ok := d.issuers[issuer]
	if !ok {
		e = &issuerKeys{}
		d.issuers[issuer] = e
	}
	return e
}

// cached returns the entry's keys when fetched less than maxAge ago.
func (e *issuerKeys) cached(now time.Time, maxAge time.Duration) (*jose.JSONWebKeySet, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.keys != nil && now.Sub(e.fetched) < maxAge && !now.Before(e.fetched) {
		return e.keys, true
	}
	return nil, false
}

// Keys returns the issuer's JWKS, from cache when fresh.
func (d *DiscoveryKeys) Keys(ctx context.Context, issuer string) (*jose.JSONWebKeySet, error) {
	ttl := d.TTL
	if ttl <= 0 {
		ttl = DefaultKeyTTL
	}
	return d.load(ctx, issuer, ttl)
}

// Refresh refetches the issuer's JWKS unless it was fetched within
// RefreshInterval, in which case the cached set is returned. Verifier calls it
// when a token names a kid the cached set lacks (a signing-key rotation).
func (d *DiscoveryKeys) Refresh(ctx context.Context, issuer string) (*jose.JSONWebKeySet, error) {
	iv := d.RefreshInterval
	if iv == 0 {
		iv = DefaultRefreshInterval
	}
	if iv < 0 {
		iv = 0
	}
	return d.load(ctx, issuer, iv)
}

func (d *DiscoveryKeys) load(ctx context.Context, issuer string, maxAge time.Duration) (*jose.JSONWebKeySet, error) {
	e := d.entry(issuer)
	if ks, ok := e.cached(d.now(), maxAge); ok {
		return ks, nil
	}
	e.fetchMu.Lock()
	defer e.fetchMu.Unlock()
	// Another caller may have fetched while we waited.
	if ks, ok := e.cached(d.now(), maxAge); ok {
		return ks, nil
	}
	ks, err := d.fetch(ctx, issuer)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.keys, e.fetched = ks, d.now()
	e.mu.Unlock()
	return ks, nil
}

// Forget drops the cached keys of issuer (after a signing-key rotation).
func (d *DiscoveryKeys) Forget(issuer string) {
	d.mu.Lock()
	delete(d.issuers, issuer)
	d.mu.Unlock()
}

func (d *DiscoveryKeys) fetch(ctx context.Context, issuer string) (*jose.JSONWebKeySet, error) {
	if err := requireHTTPS(issuer); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultFetchTimeout)
	defer cancel()
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	discovery := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	body, err := d.get(ctx, discovery)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, &Error{Code: CodeKeyFetch, Msg: "discovery document at " + discovery + " is not a JSON object", Err: err}
	}
	if doc.Issuer != issuer {
		return nil, fail(CodeKeyFetch, "discovery document at %s names issuer %q, want %q", discovery, doc.Issuer, issuer)
	}
	if doc.JWKSURI == "" {
		return nil, fail(CodeKeyFetch, "discovery document at %s has no jwks_uri", discovery)
	}
	if err := requireHTTPS(doc.JWKSURI); err != nil {
		return nil, err
	}
	body, err = d.get(ctx, doc.JWKSURI)
	if err != nil {
		return nil, err
	}
	return parseJWKS(doc.JWKSURI, body)
}

// parseJWKS decodes a JWKS keeping every key go-jose understands and
// skipping the others (unknown kty, broken members), as relying parties do,
// so one odd key does not hide the rest.
func parseJWKS(from string, body []byte) (*jose.JSONWebKeySet, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, &Error{Code: CodeKeyFetch, Msg: "JWKS at " + from + " is not a JSON object", Err: err}
	}
	if raw.Keys == nil {
		return nil, fail(CodeKeyFetch, "JWKS at %s has no keys member", from)
	}
	ks := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, m := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(m); err != nil || k.Key == nil || !k.IsPublic() {
			continue
		}
		ks.Keys = append(ks.Keys, k)
	}
	return ks, nil
}

func requireHTTPS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fail(CodeKeyFetch, "%q is not an https URL", raw)
	}
	return nil
}

// get fetches u and returns its body: 200 only, at most MaxDocumentSize
// bytes, and the final URL after redirects must still be https.
func (d *DiscoveryKeys) get(ctx context.Context, u string) ([]byte, error) {
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &Error{Code: CodeKeyFetch, Msg: "build request for " + u, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, &Error{Code: CodeKeyFetch, Msg: "GET " + u, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fail(CodeKeyFetch, "GET %s: HTTP %d %s", u, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	if resp.Request != nil && resp.Request.URL != nil && resp.Request.URL.Scheme != "https" {
		return nil, fail(CodeKeyFetch, "GET %s: redirected to non-https %s", u, resp.Request.URL.Redacted())
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	if err != nil {
		return nil, &Error{Code: CodeKeyFetch, Msg: "read " + u, Err: err}
	}
	if len(body) > MaxDocumentSize {
		return nil, fail(CodeKeyFetch, "GET %s: body larger than %d bytes", u, MaxDocumentSize)
	}
	return body, nil
}
