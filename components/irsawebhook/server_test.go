package irsawebhook

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/certs"
)

func TestServerTLS(t *testing.T) {
	ca, err := certs.NewCA("irsawebhook test")
	require.NoError(t, err)
	client := fakeClient()
	require.NoError(t, client.Tracker().Add(roleSA("apps", "app")))
	srv, err := NewServer(t.Context(), ServerOptions{Handler: Options{Client: client}, CA: ca})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	require.True(t, strings.HasPrefix(srv.URL(), "https://127.0.0.1:"))

	body := reviewBody(t, podRequest(t, "tls-1", "apps", appPod("apps", "app")))
	res, err := srv.Client().Post(srv.URL()+MutatePath, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	rv := requireReview(t, out)
	require.Equal(t, "tls-1", string(rv.Response.UID))
	var ops []PatchOperation
	require.NoError(t, json.Unmarshal(rv.Response.Patch, &ops))
	require.NotEmpty(t, ops)

	// A client that does not trust the lab CA is refused.
	_, err = http.Post(srv.URL()+"/healthz", "text/plain", nil)
	require.Error(t, err)
}

func TestNewServerNeedsCertificate(t *testing.T) {
	_, err := NewServer(t.Context(), ServerOptions{Handler: Options{Client: fakeClient()}})
	require.ErrorIs(t, err, ErrNoCertificate)
}
