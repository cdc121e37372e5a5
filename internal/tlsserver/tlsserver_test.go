package tlsserver

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/certs"
)

type handler struct{ closed atomic.Bool }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Host) }
func (h *handler) Close()                                           { h.closed.Store(true) }

// errHandler's Close returns an error, as awss3.Handler's does.
type errHandler struct{ closed atomic.Bool }

func (h *errHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {}
func (h *errHandler) Close() error                                     { h.closed.Store(true); return nil }

func TestCloseClosesAHandlerWhoseCloseReturnsAnError(t *testing.T) {
	h := &errHandler{}
	s, err := Start(nil, h)
	require.NoError(t, err)
	s.Close()
	require.True(t, h.closed.Load())
}

func TestStart(t *testing.T) {
	ca, err := certs.NewCA("tlsserver test")
	require.NoError(t, err)
	h := &handler{}
	s, err := Start(ca, h)
	require.NoError(t, err)
	require.Same(t, h, s.Handler())
	for _, u := range []string{s.URL() + "/", "https://sts.us-west-2.amazonaws.com/"} {
		resp, err := s.Client().Get(u)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotEmpty(t, body)
	}
	s.Close()
	require.True(t, h.closed.Load(), "Close stops the handler's own work too")
}

func TestStartWithoutCA(t *testing.T) {
	s, err := Start(nil, &handler{})
	require.NoError(t, err)
	defer s.Close()
	require.NotNil(t, s.CA(), "a server given no CA makes its own")
	require.Contains(t, string(s.CA().PEM), "BEGIN CERTIFICATE")
	resp, err := s.Client().Get(s.URL() + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// Another client does not trust it: the CA is the server's own.
	_, err = http.Get(s.URL() + "/")
	require.ErrorContains(t, err, "certificate")
}

func TestStartKeepsTheGivenCA(t *testing.T) {
	ca, err := certs.NewCA("given")
	require.NoError(t, err)
	s, err := Start(ca, &handler{})
	require.NoError(t, err)
	defer s.Close()
	require.Same(t, ca, s.CA())
}
