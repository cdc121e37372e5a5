package awssts_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/internal/tlsserver/tlsservertest"
)

// TestNewServerZeroOptions: with zero Options the server serves over TLS
// with a CA of its own, which its Client trusts.
func TestNewServerZeroOptions(t *testing.T) {
	s, err := awssts.NewServer(awssts.Options{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	resp, body := tlsservertest.Do(t, s, http.MethodPost, s.URL()+"/", "", "Action=GetCallerIdentity&Version=2011-06-15")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	require.Contains(t, body, "<Code>MissingAuthenticationToken</Code>")
}
