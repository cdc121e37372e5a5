package entra_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/tlsserver/tlsservertest"
)

// TestNewServerZeroOptions: with zero Options the server serves over TLS
// with a CA of its own, which its Client trusts.
func TestNewServerZeroOptions(t *testing.T) {
	s, err := entra.NewServer(entra.Options{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	resp, body := tlsservertest.Do(t, s, http.MethodGet, "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0/.well-known/openid-configuration", "", "")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	require.Contains(t, body, "AADSTS90002")
}
