package gcpiam

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
)

// Server is the Handler on 127.0.0.1:0 over HTTPS, with a certificate from
// Options.CA for whatever host name a client asks for.
type Server struct {
	h      *Handler
	srv    *httptest.Server
	client *http.Client
}

// NewServer starts the handler; Close stops it.
func NewServer(opts Options) (*Server, error) {
	if opts.CA == nil {
		return nil, errors.New("gcpiam: NewServer needs Options.CA")
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	s, err := opts.CA.StartServer(h)
	if err != nil {
		return nil, fmt.Errorf("gcpiam: %w", err)
	}
	client := opts.CA.PinnedClient(s.Listener.Addr().String())
	return &Server{h: h, srv: s, client: client}, nil
}

// URL is https://127.0.0.1:PORT.
func (s *Server) URL() string { return s.srv.URL }

// Handler is the emulator, for seeding state and reading decisions.
func (s *Server) Handler() *Handler { return s.h }

// Client trusts the CA and dials this server for every host name, so
// https://accounts.google.com, https://sts.googleapis.com and the rest
// reach it. The same client is returned each time.
func (s *Server) Client() *http.Client { return s.client }

// Close shuts the server down.
func (s *Server) Close() {
	s.client.CloseIdleConnections()
	s.srv.Close()
}
