// Package tlsserver is the NewServer every embeddable emulator offers: its
// handler over HTTPS on 127.0.0.1:0 with a certificate from the lab CA for
// whatever host name a client asks, like httptest.NewTLSServer, and a client
// that reaches it by real cloud host names.
package tlsserver

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/idlab/idlab/internal/certs"
)

// Server serves an emulator's handler H.
type Server[H http.Handler] struct {
	h      H
	ca     *certs.CA
	srv    *httptest.Server
	client *http.Client
}

// Start serves h over HTTPS with certificates from ca. A nil ca is
// replaced by a new one (OwnCA), so an embedder outside this module, which
// cannot name certs.CA, still gets a working server.
func Start[H http.Handler](ca *certs.CA, h H) (*Server[H], error) {
	ca, err := OwnCA(ca)
	if err != nil {
		return nil, err
	}
	srv, err := ca.StartServer(h)
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	return &Server[H]{h: h, ca: ca, srv: srv, client: ca.PinnedClient(srv.Listener.Addr().String())}, nil
}

// OwnCA returns ca, or a new CA when ca is nil: the default of every
// emulator's Options.CA.
func OwnCA(ca *certs.CA) (*certs.CA, error) {
	if ca != nil {
		return ca, nil
	}
	ca, err := certs.NewCA("idlab emulator")
	if err != nil {
		return nil, fmt.Errorf("own CA: %w", err)
	}
	return ca, nil
}

// URL is https://127.0.0.1:PORT: the endpoint to give an SDK.
func (s *Server[H]) URL() string { return s.srv.URL }

// Handler is the emulator, for seeding state and reading decisions.
func (s *Server[H]) Handler() H { return s.h }

// CA is the certificate authority the server's certificates come from:
// CA().PEM is the bundle to trust (AWS_CA_BUNDLE, SSL_CERT_FILE), and it
// may be passed as another emulator's Options.CA so several share one.
func (s *Server[H]) CA() *certs.CA { return s.ca }

// CACertPEM is the PEM of the CA certificate the server's certificates
// chain to: what a client outside this module trusts (x509.CertPool
// AppendCertsFromPEM, AWS_CA_BUNDLE, SSL_CERT_FILE). It is a copy.
func (s *Server[H]) CACertPEM() []byte { return bytes.Clone(s.ca.PEM) }

// Client trusts the lab CA and dials this server whatever host a request
// names, so an SDK may use the cloud's real host names. The same client is
// returned each time.
func (s *Server[H]) Client() *http.Client { return s.client }

// Close stops the server, then the handler's background work when it has
// any: a Close method, with or without an error (awss3's closes its object
// log). Like httptest.Server.Close it reports nothing; an error from the
// handler is logged.
func (s *Server[H]) Close() {
	s.client.CloseIdleConnections()
	s.srv.Close()
	switch c := any(s.h).(type) {
	case interface{ Close() }:
		c.Close()
	case interface{ Close() error }:
		if err := c.Close(); err != nil {
			slog.Error("tlsserver: closing the handler", "err", err)
		}
	}
}
