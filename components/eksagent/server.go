package eksagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server serves an Agent over plain HTTP, as the real agent does on its
// link-local address. NewServer listens on 127.0.0.1:0 for tests, like
// httptest; in a cluster the command listens on IPv4Address:Port.
type Server struct {
	agent *Agent
	srv   *http.Server
	ln    net.Listener
	done  chan error
}

// NewServer starts an Agent on addr ("" is 127.0.0.1:0). The listener's
// own host is added to Options.TargetHosts, so callers may address it
// directly as well as by the link-local names.
func NewServer(ctx context.Context, addr string, opts Options) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("eksagent: listen on %s: %w", addr, err)
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	if len(opts.TargetHosts) == 0 {
		opts.TargetHosts = []string{IPv4Address, IPv6Address}
	}
	opts.TargetHosts = append(opts.TargetHosts, host)
	a, err := New(opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{agent: a, ln: ln, done: make(chan error, 1),
		// Upstream's 30 s read and write timeouts.
		srv: &http.Server{Handler: a, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// URL is http://host:port.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Agent is the served handler.
func (s *Server) Agent() *Agent { return s.agent }

// Close stops the server, waiting briefly for requests in flight.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
