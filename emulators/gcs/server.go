package gcs

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/idlab/idlab/internal/httplimit"
)

// Server is the Handler on 127.0.0.1:0 over HTTPS, like httptest and
// fake-gcs-server.
type Server struct {
	h      *Handler
	srv    *httptest.Server
	client *http.Client
}

// NewServer starts the emulator with a certificate from Options.CA for any
// host name. Resumable-upload Locations point at the server's URL.
func NewServer(opts Options) (*Server, error) {
	if opts.CA == nil {
		return nil, errors.New("gcs: NewServer needs Options.CA")
	}
	tlsCfg, err := opts.CA.DynamicServerTLS("127.0.0.1", "localhost")
	if err != nil {
		return nil, fmt.Errorf("gcs: server certificate: %w", err)
	}
	s := &Server{}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.h.ServeHTTP(w, r) }))
	if opts.ExternalURL == "" {
		opts.ExternalURL = "https://" + s.srv.Listener.Addr().String()
	}
	h, err := New(opts)
	if err != nil {
		s.srv.Close()
		return nil, err
	}
	s.h = h
	httplimit.Apply(s.srv.Config)
	s.srv.TLS = tlsCfg
	s.srv.StartTLS()
	s.client = opts.CA.PinnedClient(s.srv.Listener.Addr().String())
	s.client.Timeout = 60 * time.Second // resumable uploads of large objects
	return s, nil
}

// URL is https://127.0.0.1:PORT; point the SDK at URL()+"/storage/v1/".
func (s *Server) URL() string { return s.srv.URL }

// Handler is the emulator, for seeding buckets and objects.
func (s *Server) Handler() *Handler { return s.h }

// Client trusts the CA and dials this server for any host name
// (storage.googleapis.com, BUCKET.storage.googleapis.com).
func (s *Server) Client() *http.Client { return s.client }

// Close shuts the server down.
func (s *Server) Close() {
	s.client.CloseIdleConnections()
	s.srv.Close()
}
