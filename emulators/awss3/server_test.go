package awss3_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awss3"
	"github.com/idlab/idlab/internal/tlsserver/tlsservertest"
)

// TestNewServerZeroOptions: with zero Options the server serves over TLS
// with a CA of its own, which its Client trusts.
func TestNewServerZeroOptions(t *testing.T) {
	s, err := awss3.NewServer(awss3.Options{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	resp, body := tlsservertest.Do(t, s, http.MethodGet, s.URL()+"/", "", "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	require.Contains(t, body, "<Code>AccessDenied</Code>")
}
