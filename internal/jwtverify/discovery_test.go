package jwtverify

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
)

// fakeIssuer is an https OIDC issuer whose documents a test can rewrite.
type fakeIssuer struct {
	srv        *httptest.Server
	mu         sync.Mutex
	discovery  func(iss string) (int, string)
	jwks       func() (int, string)
	discHits   atomic.Int32
	jwksHits   atomic.Int32
	keys       []jose.JSONWebKey
	redirectTo string
}

func newFakeIssuer(t *testing.T) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{}
	f.discovery = func(iss string) (int, string) {
		b, _ := json.Marshal(map[string]any{"issuer": iss, "jwks_uri": iss + "/keys"})
		return 200, string(b)
	}
	f.jwks = func() (int, string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		b, _ := json.Marshal(jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey{}, f.keys...)})
		return 200, string(b)
	}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var status int
		var body string
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			f.discHits.Add(1)
			status, body = f.discovery(f.srv.URL)
		case "/keys":
			f.jwksHits.Add(1)
			if f.redirectTo != "" {
				http.Redirect(w, r, f.redirectTo, http.StatusFound)
				return
			}
			status, body = f.jwks()
		default:
			status, body = 404, "not found"
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIssuer) publish(keys ...jose.JSONWebKey) {
	f.mu.Lock()
	f.keys = keys
	f.mu.Unlock()
}

func codeOf(t *testing.T, err error) Code {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As(err, &e), "want *Error, got %T: %v", err, err)
	return e.Code
}

func TestDiscoveryKeysFetchErrors(t *testing.T) {
	tests := []struct {
		name      string
		discovery func(iss string) (int, string)
		jwks      func() (int, string)
		want      string
	}{
		{"discovery 404", func(string) (int, string) { return 404, "no" }, nil, "HTTP 404"},
		{"discovery 500", func(string) (int, string) { return 500, "boom" }, nil, "HTTP 500"},
		{"discovery not JSON", func(string) (int, string) { return 200, "<html>" }, nil, "not a JSON object"},
		{"issuer mismatch", func(iss string) (int, string) {
			return 200, `{"issuer":"` + iss + `/","jwks_uri":"` + iss + `/keys"}`
		}, nil, "names issuer"},
		{"no jwks_uri", func(iss string) (int, string) { return 200, `{"issuer":"` + iss + `"}` }, nil, "no jwks_uri"},
		{"http jwks_uri", func(iss string) (int, string) {
			return 200, `{"issuer":"` + iss + `","jwks_uri":"` + strings.Replace(iss, "https", "http", 1) + `/keys"}`
		}, nil, "not an https URL"},
		{"jwks 403", nil, func() (int, string) { return 403, "denied" }, "HTTP 403"},
		{"jwks huge", nil, func() (int, string) { return 200, `{"keys":[` + strings.Repeat(" ", MaxDocumentSize) + `]}` }, "larger than"},
		{"jwks without keys", nil, func() (int, string) { return 200, `{}` }, "no keys member"},
		{"jwks array", nil, func() (int, string) { return 200, `[]` }, "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIssuer(t)
			if tc.discovery != nil {
				f.discovery = tc.discovery
			}
			if tc.jwks != nil {
				f.jwks = tc.jwks
			}
			d := &DiscoveryKeys{Client: f.srv.Client()}
			_, err := d.Keys(context.Background(), f.srv.URL)
			require.Equal(t, CodeKeyFetch, codeOf(t, err))
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestDiscoveryKeysRefusesPlainHTTPAndRedirectsToIt(t *testing.T) {
	d := &DiscoveryKeys{}
	_, err := d.Keys(context.Background(), "http://oidc.example")
	require.Equal(t, CodeKeyFetch, codeOf(t, err))

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"keys":[]}`)) }))
	defer plain.Close()
	f := newFakeIssuer(t)
	f.redirectTo = plain.URL + "/keys"
	d = &DiscoveryKeys{Client: f.srv.Client()}
	_, err = d.Keys(context.Background(), f.srv.URL)
	require.Equal(t, CodeKeyFetch, codeOf(t, err))
	require.Contains(t, err.Error(), "non-https")
}

func TestDiscoveryKeysHonoursContext(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	d := &DiscoveryKeys{Client: srv.Client()}
	start := time.Now()
	_, err := d.Keys(ctx, srv.URL)
	require.Equal(t, CodeKeyFetch, codeOf(t, err))
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestDiscoveryKeysSkipsUnknownKeyTypes(t *testing.T) {
	f := newFakeIssuer(t)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	good, err := json.Marshal(jose.JSONWebKey{Key: k.Public(), KeyID: "good", Use: "sig", Algorithm: "RS256"})
	require.NoError(t, err)
	f.jwks = func() (int, string) {
		return 200, `{"keys":[{"kty":"weird","kid":"x"},{"kty":"RSA","kid":"broken","n":"!!"},` + string(good) + `]}`
	}
	d := &DiscoveryKeys{Client: f.srv.Client()}
	ks, err := d.Keys(context.Background(), f.srv.URL)
	require.NoError(t, err)
	require.Len(t, ks.Keys, 1)
	require.Equal(t, "good", ks.Keys[0].KeyID)
}

func TestDiscoveryKeysCacheAndRefreshOnUnknownKid(t *testing.T) {
	f := newFakeIssuer(t)
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		return k
	}
	k1, k2 := gen(), gen()
	f.publish(jose.JSONWebKey{Key: k1.Public(), KeyID: "k1", Use: "sig", Algorithm: "RS256"})
	clock := now
	d := &DiscoveryKeys{Client: f.srv.Client(), Now: func() time.Time { return clock }}
	v := &Verifier{Keys: d, Now: func() time.Time { return clock }}
	claims := with(goodClaims(), "iss", f.srv.URL)
	tok1 := signRS(t, k1, js(t, map[string]string{"alg": "RS256", "kid": "k1"}), js(t, claims))
	tok2 := signRS(t, k2, js(t, map[string]string{"alg": "RS256", "kid": "k2"}), js(t, claims))
	ctx := context.Background()

	_, err := v.Verify(ctx, tok1)
	require.NoError(t, err)
	_, err = v.Verify(ctx, tok1)
	require.NoError(t, err)
	require.Equal(t, int32(1), f.jwksHits.Load(), "second verification is served from cache")

	// Rotation: k2 appears. Right after a fetch the refetch is rate limited.
	f.publish(jose.JSONWebKey{Key: k1.Public(), KeyID: "k1", Use: "sig"}, jose.JSONWebKey{Key: k2.Public(), KeyID: "k2", Use: "sig"})
	_, err = v.Verify(ctx, tok2)
	require.Equal(t, CodeKeyNotFound, codeOf(t, err))
	require.Equal(t, int32(1), f.jwksHits.Load())

	clock = clock.Add(DefaultRefreshInterval)
	_, err = v.Verify(ctx, tok2)
	require.NoError(t, err, "an unknown kid refetches once the interval passed")
	require.Equal(t, int32(2), f.jwksHits.Load())

	// Removing k1 takes effect when the TTL runs out.
	f.publish(jose.JSONWebKey{Key: k2.Public(), KeyID: "k2", Use: "sig"})
	_, err = v.Verify(ctx, tok1)
	require.NoError(t, err)
	clock = clock.Add(DefaultKeyTTL)
	_, err = v.Verify(ctx, tok1)
	require.Equal(t, CodeKeyNotFound, codeOf(t, err))
	require.Equal(t, int32(3), f.jwksHits.Load())

	d.Forget(f.srv.URL)
	_, err = d.Keys(ctx, f.srv.URL)
	require.NoError(t, err)
	require.Equal(t, int32(4), f.jwksHits.Load())
}

func TestDiscoveryKeysConcurrentColdFetchOnce(t *testing.T) {
	f := newFakeIssuer(t)
	d := &DiscoveryKeys{Client: f.srv.Client()}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := d.Keys(context.Background(), f.srv.URL)
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Equal(t, int32(1), f.discHits.Load())
}
