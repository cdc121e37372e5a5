package eksauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
)

// Server is the EKS Auth handler on 127.0.0.1:0 over HTTPS, like httptest.
type Server struct {
	h   *Handler
	srv *httptest.Server
	opt Options
}

// NewServer starts EKS Auth over HTTPS with a certificate from Options.CA
// for whatever host name the client asks (eks-auth.REGION.api.aws).
func NewServer(opts Options) (*Server, error) {
	if opts.CA == nil {
		return nil, errors.New("eksauth: NewServer needs Options.CA")
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	srv, err := opts.CA.StartServer(h)
	if err != nil {
		return nil, fmt.Errorf("eksauth: %w", err)
	}
	return &Server{h: h, srv: srv, opt: opts}, nil
}

// URL is https://127.0.0.1:PORT: the EKS Pod Identity agent's endpoint.
func (s *Server) URL() string { return s.srv.URL }

// Handler is the EKS Auth handler, to add clusters and associations.
func (s *Server) Handler() *Handler { return s.h }

// Client is an HTTP client trusting the server's CA.
func (s *Server) Client() *http.Client { return s.opt.CA.Client() }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }
