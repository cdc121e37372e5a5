package awss3

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
)

// Server is the S3 handler on 127.0.0.1:0 over HTTPS, like httptest.
type Server struct {
	h   *Handler
	srv *httptest.Server
	opt Options
}

// NewServer starts S3 over HTTPS with a certificate from Options.CA that
// also names the virtual-hosted S3 host names.
func NewServer(opts Options) (*Server, error) {
	if opts.CA == nil {
		return nil, errors.New("awss3: NewServer needs Options.CA")
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	srv, err := opts.CA.StartServer(h)
	if err != nil {
		return nil, fmt.Errorf("awss3: %w", err)
	}
	return &Server{h: h, srv: srv, opt: opts}, nil
}

// URL is https://127.0.0.1:PORT: set it as AWS_ENDPOINT_URL(_S3) with
// path-style addressing.
func (s *Server) URL() string { return s.srv.URL }

// Handler is the S3 handler.
func (s *Server) Handler() *Handler { return s.h }

// Client is an HTTP client trusting the server's CA.
func (s *Server) Client() *http.Client {
	return s.opt.CA.Client()
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }
