// Package connectproxy is an HTTP CONNECT proxy that tunnels every
// connection to one address. Pointing a client's HTTPS_PROXY at it sends the
// real cloud host names (sts.amazonaws.com, BUCKET.s3.REGION.amazonaws.com)
// to the lab's emulator without touching DNS, so a client such as awscli,
// whose own credential providers take no endpoint override, runs unmodified:
// TLS still goes end to end, with the SNI the client chose, to the emulator.
package connectproxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Proxy tunnels CONNECT requests to Target.
type Proxy struct {
	// Target is the host:port every tunnel reaches, whatever was asked for.
	Target string
	// Logger receives one line per tunnel; nil discards.
	Logger *slog.Logger

	mu    sync.Mutex
	hosts []string
}

// Hosts lists the host:port each tunnel asked for, in order: what the
// client would have reached on the real network.
func (p *Proxy) Hosts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.hosts...)
}

// ServeHTTP answers CONNECT and refuses everything else: plain-HTTP
// forwarding is not needed by any cloud SDK and would hide mistakes.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "connectproxy: only CONNECT is supported", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	p.hosts = append(p.hosts, r.Host)
	p.mu.Unlock()
	var d net.Dialer
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	upstream, err := d.DialContext(ctx, "tcp", p.Target)
	cancel()
	if err != nil {
		http.Error(w, "connectproxy: dial "+p.Target+": "+err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		upstream.Close()
		http.Error(w, "connectproxy: connection cannot be hijacked", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
	client, buf, err := hj.Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	p.logger().Debug("tunnel", "asked", r.Host, "target", p.Target)
	go func() {
		defer upstream.Close()
		defer client.Close()
		done := make(chan struct{})
		go func() {
			// Bytes the client sent after CONNECT may already sit in buf.
			_, _ = io.Copy(upstream, buf)
			closeWrite(upstream)
			close(done)
		}()
		_, _ = io.Copy(client, upstream)
		closeWrite(client)
		<-done
	}()
}

func (p *Proxy) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// closeWrite half-closes c so the far side sees EOF while replies still flow.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
