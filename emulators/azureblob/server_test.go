package azureblob_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/azureblob"
	"github.com/idlab/idlab/internal/tlsserver/tlsservertest"
)

// TestNewServerZeroOptions: with zero Options the server serves over TLS
// with a CA of its own, which its Client trusts.
func TestNewServerZeroOptions(t *testing.T) {
	s, err := azureblob.NewServer(azureblob.Options{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	resp, body := tlsservertest.Do(t, s, http.MethodGet, "https://idlab.blob.core.windows.net/data/hello.txt", "", "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, body)
	require.Contains(t, resp.Header.Get("X-Ms-Error-Code"), "ResourceNotFound")
}
