package azureimds

import (
	"net/http"
	"net/http/httptest"

	"github.com/idlab/idlab/internal/httplimit"
)

// Server is the handler on http://127.0.0.1:0 (IMDS is plain HTTP), like
// httptest; the lab's DNAT of 169.254.169.254:80 or a test's transport
// points at it.
type Server struct {
	h   *Handler
	srv *httptest.Server
}

// NewServer starts the metadata service.
func NewServer(opts Options) (*Server, error) {
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewUnstartedServer(h)
	httplimit.Apply(srv.Config)
	srv.Start()
	return &Server{h: h, srv: srv}, nil
}

// URL is http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.srv.URL }

// Handler is the metadata handler.
func (s *Server) Handler() *Handler { return s.h }

// Client is a plain HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }
