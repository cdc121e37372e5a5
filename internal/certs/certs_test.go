package certs

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/httplimit"
)

func TestIssueServesTLSTrustedOnlyThroughCA(t *testing.T) {
	ca, err := NewCA("test CA")
	require.NoError(t, err)
	cfg, err := ca.ServerTLS("127.0.0.1", "sts.amazonaws.com", "*.s3.amazonaws.com")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	srv.TLS = cfg
	srv.StartTLS()
	defer srv.Close()

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientTLS()}}
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	other, err := NewCA("other")
	require.NoError(t, err)
	c2 := &http.Client{Transport: &http.Transport{TLSClientConfig: other.ClientTLS()}}
	_, err = c2.Get(srv.URL)
	require.Error(t, err, "a client trusting another CA must refuse the certificate")

	leaf := cfg.Certificates[0].Leaf
	require.NoError(t, leaf.VerifyHostname("bucket.s3.amazonaws.com"))
	require.NoError(t, leaf.VerifyHostname("sts.amazonaws.com"))
	require.Error(t, leaf.VerifyHostname("sts.us-east-1.amazonaws.com"))
	_ = tls.VersionTLS12
}

func TestLoadOrCreateReusesCA(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir, "lab")
	require.NoError(t, err)
	b, err := LoadOrCreate(dir, "lab")
	require.NoError(t, err)
	require.Equal(t, a.PEM, b.PEM)

	_, err = Parse([]byte("junk"), []byte("junk"))
	require.Error(t, err)
	_, err = Parse(a.PEM, []byte("junk"))
	require.Error(t, err)
}

// StartServer answers any host name a PinnedClient sends it to, with a
// certificate for that name; a client that does not trust the CA refuses it.
func TestStartServerAndPinnedClient(t *testing.T) {
	ca, err := NewCA("pinned test")
	require.NoError(t, err)
	srv, err := ca.StartServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.Host + " " + r.TLS.ServerName))
	}))
	require.NoError(t, err)
	defer srv.Close()
	require.Equal(t, httplimit.Default(), httplimit.Of(srv.Config), "every embedded emulator's server has the shared limits")
	resp, err := ca.PinnedClient(srv.Listener.Addr().String()).Get("https://login.microsoftonline.com/x")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "login.microsoftonline.com login.microsoftonline.com", string(body))

	other, err := NewCA("someone else")
	require.NoError(t, err)
	_, err = other.PinnedClient(srv.Listener.Addr().String()).Get("https://login.microsoftonline.com/x")
	require.ErrorContains(t, err, "certificate signed by unknown authority")
}

func TestDynamicServerTLSCacheIsBounded(t *testing.T) {
	ca, err := NewCA("cache test")
	require.NoError(t, err)
	cache := newLeafCache(3)
	cfg, err := ca.dynamicServerTLS(cache, "127.0.0.1")
	require.NoError(t, err)
	get := func(name string) *tls.Certificate {
		t.Helper()
		c, err := cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
		require.NoError(t, err)
		require.Equal(t, []string{strings.ToLower(strings.TrimSuffix(name, "."))}, c.Leaf.DNSNames)
		return c
	}
	// Each step asks for a name and says whether the cache must answer
	// with the certificate it gave before (hit) or issue a fresh one.
	first := map[string]*tls.Certificate{}
	steps := []struct {
		name string
		hit  bool
	}{
		{"a.s3.amazonaws.com", false}, {"b.s3.amazonaws.com", false}, {"c.s3.amazonaws.com", false},
		{"A.S3.amazonaws.com.", true}, // case and the root dot do not make a new name; a is now most recent
		{"d.s3.amazonaws.com", false}, // evicts b, the least recently used
		{"b.s3.amazonaws.com", false}, // b was dropped: a fresh leaf (evicts c)
		{"a.s3.amazonaws.com", true},
		{"c.s3.amazonaws.com", false},
	}
	for i, s := range steps {
		c := get(s.name)
		key := strings.ToLower(strings.TrimSuffix(s.name, "."))
		if prev, ok := first[key]; ok {
			require.Equal(t, s.hit, prev == c, "step %d %s: cached certificate reused", i, s.name)
			if !s.hit {
				require.NotEqual(t, prev.Leaf.SerialNumber, c.Leaf.SerialNumber, "step %d: a fresh leaf", i)
			}
		} else {
			require.False(t, s.hit, "step %d names %s for the first time", i, s.name)
		}
		first[key] = c
		require.LessOrEqual(t, cache.len(), 3)
	}

	// Many distinct names (a client inventing one per connection) leave at
	// most the limit behind, and no SNI gets the fallback.
	for i := range 200 {
		get(fmt.Sprintf("bucket-%d.s3.amazonaws.com", i))
	}
	require.Equal(t, 3, cache.len())
	fb, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", fb.Leaf.IPAddresses[0].String())
}

func TestDynamicServerTLSLimit(t *testing.T) {
	require.Equal(t, 1024, maxCachedLeaves, "about 7 MB of certificates at most")
	ca, err := NewCA("limit test")
	require.NoError(t, err)
	_, err = ca.DynamicServerTLS()
	require.ErrorContains(t, err, "no hosts", "a fallback certificate needs hosts")
}
