// Package tlsservertest checks the promise every emulator's NewServer
// makes: started with zero Options it serves over TLS with a CA of its
// own, which its Client trusts, so an embedder never names internal/certs.
package tlsservertest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/certs"
)

// Server is what every emulator's Server offers.
type Server interface {
	Client() *http.Client
	CA() *certs.CA
}

// Do sends method url with body (form-encoded when ctype is "") through
// s.Client, requires the answer to come over TLS with a chain ending at
// s.CA, and returns the response (body read) and its body.
func Do(t testing.TB, s Server, method, url, ctype, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" && ctype == "" {
		ctype = "application/x-www-form-urlencoded"
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NotNil(t, resp.TLS, "served over TLS")
	chain := resp.TLS.VerifiedChains[0]
	require.True(t, chain[len(chain)-1].Equal(s.CA().Cert), "the client trusts the server's own CA")
	require.Contains(t, string(s.CA().PEM), "BEGIN CERTIFICATE")
	return resp, string(raw)
}
