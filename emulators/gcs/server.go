package gcs

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/httplimit"
	"github.com/idlab/idlab/internal/tlsserver"
)

// Server is the Handler on 127.0.0.1:0 over HTTPS, like httptest and
// fake-gcs-server.
type Server struct {
	h      *Handler
	ca     *certs.CA
	srv    *httptest.Server
	client *http.Client
}

// NewServer starts the emulator with a certificate from Options.CA (or a
// CA of its own, Server.CA) for any host name. Without Options.IAM it makes
// an empty Google IAM, which accepts no token. Resumable-upload Locations
// point at the server's URL.
func NewServer(opts Options) (*Server, error) {
	ca, err := tlsserver.OwnCA(opts.CA)
	if err != nil {
		return nil, fmt.Errorf("gcs: %w", err)
	}
	if opts.IAM == nil {
		if opts.IAM, err = gcpiam.New(gcpiam.Options{Now: opts.Now, Logger: opts.Logger}); err != nil {
			return nil, fmt.Errorf("gcs: %w", err)
		}
	}
	tlsCfg, err := ca.DynamicServerTLS("127.0.0.1", "localhost")
	if err != nil {
		return nil, fmt.Errorf("gcs: server certificate: %w", err)
	}
	s := &Server{ca: ca}
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
	s.client = ca.PinnedClient(s.srv.Listener.Addr().String())
	s.client.Timeout = 60 * time.Second // resumable uploads of large objects
	return s, nil
}

// URL is https://127.0.0.1:PORT; point the SDK at URL()+"/storage/v1/".
func (s *Server) URL() string { return s.srv.URL }

// Handler is the emulator, for seeding buckets and objects.
func (s *Server) Handler() *Handler { return s.h }

// CA is the authority of the server's certificates: CA().PEM is the bundle
// to trust.
func (s *Server) CA() *certs.CA { return s.ca }

// CACertPEM is the PEM of the CA certificate the server's certificates
// chain to, for a client outside this module. It is a copy.
func (s *Server) CACertPEM() []byte { return bytes.Clone(s.ca.PEM) }

// Client trusts the CA and dials this server for any host name
// (storage.googleapis.com, BUCKET.storage.googleapis.com).
func (s *Server) Client() *http.Client { return s.client }

// Close shuts the server down.
func (s *Server) Close() {
	s.client.CloseIdleConnections()
	s.srv.Close()
}
