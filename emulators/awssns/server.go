package awssns

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
)

// Server is the SNS handler on 127.0.0.1:0 over HTTPS, like httptest.
type Server struct {
	h   *Handler
	srv *httptest.Server
	opt Options
}

// NewServer starts SNS over HTTPS with a certificate from Options.CA.
func NewServer(opts Options) (*Server, error) {
	if opts.CA == nil {
		return nil, errors.New("awssns: NewServer needs Options.CA")
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	srv, err := opts.CA.StartServer(h)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("awssns: %w", err)
	}
	return &Server{h: h, srv: srv, opt: opts}, nil
}

// URL is https://127.0.0.1:PORT: set it as AWS_ENDPOINT_URL_SNS.
func (s *Server) URL() string { return s.srv.URL }

// Handler is the SNS handler.
func (s *Server) Handler() *Handler { return s.h }

// Client is an HTTP client trusting the server's CA.
func (s *Server) Client() *http.Client {
	return s.opt.CA.Client()
}

// Close stops deliveries, then the server.
func (s *Server) Close() {
	s.h.Close()
	s.srv.Close()
}
