package irsawebhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/idlab/idlab/internal/certs"
)

// ServerOptions configures a Server.
type ServerOptions struct {
	// Handler configures the webhook itself.
	Handler Options
	// Addr is the listen address. Defaults to "127.0.0.1:0"; in a cluster
	// ":8443" (ContainerPort).
	Addr string
	// Certificate is served as-is when set (in a cluster: the mounted
	// TLSSecret). Otherwise CA issues one for Hosts.
	Certificate *tls.Certificate
	// CA issues the serving certificate when Certificate is nil, and is what
	// Client trusts.
	CA *certs.CA
	// Hosts are the names on an issued certificate. Defaults to 127.0.0.1 and
	// localhost.
	Hosts []string
}

// ErrNoCertificate is returned by NewServer with neither Certificate nor CA.
var ErrNoCertificate = errors.New("irsawebhook: ServerOptions needs a Certificate or a CA")

// Server serves a Handler over HTTPS, like httptest.Server: for tests on
// the host and, with Addr ":8443" and the mounted certificate, in a cluster.
type Server struct {
	handler *Handler
	srv     *http.Server
	ln      net.Listener
	ca      *certs.CA
	done    chan error
}

// NewServer starts the Handler (see New) and serves it on opts.Addr.
func NewServer(ctx context.Context, opts ServerOptions) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if len(opts.Hosts) == 0 {
		opts.Hosts = []string{"127.0.0.1", "localhost"}
	}
	var cert tls.Certificate
	switch {
	case opts.Certificate != nil:
		cert = *opts.Certificate
	case opts.CA != nil:
		c, err := opts.CA.Issue(opts.Hosts...)
		if err != nil {
			return nil, fmt.Errorf("irsawebhook: issue serving certificate: %w", err)
		}
		cert = c
	default:
		return nil, ErrNoCertificate
	}

	h, err := New(ctx, opts.Handler)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("irsawebhook: listen on %s: %w", opts.Addr, err)
	}
	s := &Server{
		handler: h,
		ln:      ln,
		ca:      opts.CA,
		done:    make(chan error, 1),
		srv: &http.Server{
			Handler:           h,
			TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
		},
	}
	go func() { s.done <- s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

// URL is the server's base URL, https://host:port.
func (s *Server) URL() string { return "https://" + s.ln.Addr().String() }

// Handler is the webhook the server serves.
func (s *Server) Handler() *Handler { return s.handler }

// Client returns an HTTP client that trusts the server's CA (or the system
// roots when the server was given a Certificate and no CA).
func (s *Server) Client() *http.Client {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.ca != nil {
		cfg = s.ca.ClientTLS()
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

// Close stops serving, waits for in-flight requests briefly and stops the
// Handler's watch.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	s.handler.Close()
	if err != nil {
		return fmt.Errorf("irsawebhook: close server: %w", err)
	}
	return nil
}
