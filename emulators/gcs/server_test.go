package gcs_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/gcs"
	"github.com/idlab/idlab/internal/tlsserver/tlsservertest"
)

// TestNewServerZeroOptions: with zero Options the server serves over TLS
// with a CA of its own, which its Client trusts.
func TestNewServerZeroOptions(t *testing.T) {
	s, err := gcs.NewServer(gcs.Options{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	resp, body := tlsservertest.Do(t, s, http.MethodGet, s.URL()+"/storage/v1/b?project=idlab", "", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
	require.Contains(t, body, "Anonymous caller does not have storage.buckets.list access")
}
