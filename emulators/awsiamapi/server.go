package awsiamapi

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/tlsserver"
)

// ServerOptions configure NewServer.
type ServerOptions struct {
	// IAM is the store. Defaults to an empty store, which refuses every
	// request until users and their keys are added.
	IAM *awsiam.IAM
	// Now is the clock. Defaults to IAM.Now.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
	// CA issues the server's certificate. Defaults to a CA of its own.
	CA *certs.CA
}

// Server is the IAM API on 127.0.0.1:0 over HTTPS, like httptest.
type Server struct {
	h      *Handler
	iam    *awsiam.IAM
	ca     *certs.CA
	srv    *httptest.Server
	client *http.Client
}

// NewServer starts the IAM API over HTTPS.
func NewServer(opts ServerOptions) (*Server, error) {
	ca, err := tlsserver.OwnCA(opts.CA)
	if err != nil {
		return nil, fmt.Errorf("awsiamapi: %w", err)
	}
	iam, err := awsiam.OrEmpty(opts.IAM, opts.Now, opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("awsiamapi: %w", err)
	}
	h, err := New(Options{IAM: iam, Now: opts.Now, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	s := &Server{h: h, iam: iam, ca: ca}
	if s.srv, err = ca.StartServer(h); err != nil {
		return nil, fmt.Errorf("awsiamapi: %w", err)
	}
	s.client = ca.PinnedClient(s.srv.Listener.Addr().String())
	return s, nil
}

// URL is https://127.0.0.1:PORT: set it as AWS_ENDPOINT_URL_IAM.
func (s *Server) URL() string { return s.srv.URL }

// IAM is the store the server serves.
func (s *Server) IAM() *awsiam.IAM { return s.iam }

// Handler is the IAM API handler.
func (s *Server) Handler() *Handler { return s.h }

// Client trusts the server's CA and dials this server whatever host a
// request names (iam.amazonaws.com). The same client is returned each
// time.
func (s *Server) Client() *http.Client { return s.client }

// CA is the authority of the server's certificate.
func (s *Server) CA() *certs.CA { return s.ca }

// CACertPEM is the PEM of the CA certificate, for a client outside this
// module. It is a copy.
func (s *Server) CACertPEM() []byte { return bytes.Clone(s.ca.PEM) }

// Close stops the server.
func (s *Server) Close() {
	s.client.CloseIdleConnections()
	s.srv.Close()
}
