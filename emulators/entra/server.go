package entra

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
)

// Server is a Handler on 127.0.0.1:0 over HTTPS with a certificate from
// Options.CA for whatever host name a client asks for, like httptest.
type Server struct {
	h      *Handler
	srv    *httptest.Server
	client *http.Client
}

// NewServer starts a server; Close stops it.
func NewServer(opts Options) (*Server, error) {
	if opts.CA == nil {
		return nil, errors.New("entra: NewServer needs Options.CA")
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	s, err := opts.CA.StartServer(h)
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	client := opts.CA.PinnedClient(s.Listener.Addr().String())
	return &Server{h: h, srv: s, client: client}, nil
}

// URL is https://127.0.0.1:PORT: an authority host for SDKs
// (cloud.Configuration.ActiveDirectoryAuthorityHost).
func (s *Server) URL() string { return s.srv.URL }

// Handler is the token service, to add apps and read decisions.
func (s *Server) Handler() *Handler { return s.h }

// Client trusts the CA and dials this server for every host name, so
// https://login.microsoftonline.com reaches it. The same client each time.
func (s *Server) Client() *http.Client { return s.client }

// Close shuts the server down.
func (s *Server) Close() {
	s.client.CloseIdleConnections()
	s.srv.Close()
}
