package awssts

import (
	"errors"
	"net/http"
	"net/http/httptest"
)

// Server is the STS handler on 127.0.0.1:0 over HTTPS.
type Server struct {
	h   *Handler
	srv *httptest.Server
	opt Options
}

// NewServer starts STS over HTTPS with a certificate from Options.CA.
func NewServer(opts Options) (*Server, error) {
	if opts.CA == nil {
		return nil, errors.New("awssts: NewServer needs Options.CA")
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := opts.CA.DynamicServerTLS("127.0.0.1", "localhost")
	if err != nil {
		return nil, err
	}
	s := httptest.NewUnstartedServer(h)
	s.TLS = tlsCfg
	s.StartTLS()
	return &Server{h: h, srv: s, opt: opts}, nil
}

// URL is https://127.0.0.1:PORT: set it as AWS_ENDPOINT_URL(_STS).
func (s *Server) URL() string { return s.srv.URL }

// Handler is the STS handler.
func (s *Server) Handler() *Handler { return s.h }

// Client is an HTTP client trusting the server's CA.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: s.opt.CA.ClientTLS()}}
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }
