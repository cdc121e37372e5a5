// Package httplimit holds the timeouts and header size limit every idlab
// listener serves with, so a client that sends its body slowly, idles on a
// kept-alive connection or sends oversized headers cannot hold the lab's
// connections open or its memory.
//
// The header limit follows Amazon S3's documented one: "The PUT request
// header is limited to 8 KB in size"
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html).
// net/http counts the request line in MaxHeaderBytes and reads up to 4096
// bytes more before refusing with 431, so requests a little over 8 KB pass,
// as none of the SDKs' requests come near either figure. AWS documents no
// read or idle timeout for its APIs (S3's RequestTimeout names none); the
// values here are generous for any lab request and short enough that a
// stalled client is cut off within a minute.
package httplimit

import (
	"net/http"
	"time"
)

// Limits are the settings Apply puts on a server.
type Limits struct {
	// ReadHeaderTimeout bounds reading the request line and headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request, body included.
	ReadTimeout time.Duration
	// IdleTimeout bounds how long a kept-alive connection waits for its
	// next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
}

// Default returns the limits of every idlab listener.
func Default() Limits {
	return Limits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
}

// Apply sets l on srv and returns srv, so a server can be built and limited
// in one expression.
func (l Limits) Apply(srv *http.Server) *http.Server {
	srv.ReadHeaderTimeout = l.ReadHeaderTimeout
	srv.ReadTimeout = l.ReadTimeout
	srv.IdleTimeout = l.IdleTimeout
	srv.MaxHeaderBytes = l.MaxHeaderBytes
	return srv
}

// Apply sets the Default limits on srv and returns it:
//
//	srv := httplimit.Apply(&http.Server{Handler: h, TLSConfig: cfg})
func Apply(srv *http.Server) *http.Server { return Default().Apply(srv) }

// Of reads the limits srv has, for tests that check a listener was built
// with Apply.
func Of(srv *http.Server) Limits {
	return Limits{ReadHeaderTimeout: srv.ReadHeaderTimeout, ReadTimeout: srv.ReadTimeout,
		IdleTimeout: srv.IdleTimeout, MaxHeaderBytes: srv.MaxHeaderBytes}
}
