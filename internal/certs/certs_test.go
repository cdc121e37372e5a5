package certs

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
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
