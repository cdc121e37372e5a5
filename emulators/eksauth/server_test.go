package eksauth_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/eksauth"
	"github.com/idlab/idlab/internal/tlsserver/tlsservertest"
)

// TestNewServerZeroOptions: with zero Options the server serves over TLS
// with a CA of its own, which its Client trusts.
func TestNewServerZeroOptions(t *testing.T) {
	s, err := eksauth.NewServer(eksauth.Options{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	resp, body := tlsservertest.Do(t, s, http.MethodPost, s.URL()+"/clusters/eks/assume-role-for-pod-identity", "application/json", `{"token":"a.b.c"}`)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	require.Contains(t, resp.Header.Get("X-Amzn-Errortype"), "MissingAuthenticationTokenException")
}
