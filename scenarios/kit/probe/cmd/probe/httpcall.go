package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"time"

	"github.com/idlab/idlab/harness/trustboundary"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// maxExcerpt bounds the answer's body kept in the result.
const maxExcerpt = 512

// httpCall is `probe http METHOD URL [BODY]`: one anonymous HTTP request
// as a workload could send it (curl -d style: a body goes as
// application/x-www-form-urlencoded), trusting the system roots, which
// include SSL_CERT_FILE (the lab CA in scenario pods). It reports "STATUS
// CODE" in Output (the cloud's error code as trustboundary.ErrorCode reads
// it), that code in ErrorCode, the start of the body in ErrorMessage and the
// address it connected to in Peer; OK is a 2xx.
func httpCall(ctx context.Context, args []string) probe.Result {
	roots, err := x509.SystemCertPool()
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	return doHTTP(ctx, newHTTPClient(roots, nil), args)
}

// newHTTPClient trusts roots. For a URL naming an IP address, which no lab
// certificate names, it checks the chain to roots but not the name, as an
// attacker dialling the emulator's address would accept any answer. Only
// https URLs are sent; dial replaces the dialer when set (tests).
func newHTTPClient(roots *x509.CertPool, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	tr := &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			cfg := &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12}
			if net.ParseIP(host) != nil {
				cfg = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, //nolint:gosec // the chain is verified below
					VerifyConnection: func(cs tls.ConnectionState) error { return verifyChain(cs, roots) }}
			}
			d := dial
			if d == nil {
				d = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
			}
			raw, err := d(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			conn := tls.Client(raw, cfg)
			if err := conn.HandshakeContext(ctx); err != nil {
				_ = raw.Close()
				return nil, err
			}
			return conn, nil
		},
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// verifyChain checks the server's certificate chains to roots, whatever
// name it carries.
func verifyChain(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no server certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
	return err
}

// doHTTP sends the request args describe with client.
func doHTTP(ctx context.Context, client *http.Client, args []string) probe.Result {
	if len(args) != 2 && len(args) != 3 {
		return probe.Result{ErrorCode: "UsageError", ErrorMessage: "http METHOD URL [BODY]"}
	}
	method, rawURL := args[0], args[1]
	if u, err := url.Parse(rawURL); err != nil || u.Scheme != "https" || u.Host == "" {
		return probe.Result{ErrorCode: "UsageError", ErrorMessage: fmt.Sprintf("http: %q is not an https URL", rawURL)}
	}
	var body io.Reader
	if len(args) == 3 {
		body = strings.NewReader(args[2])
	}
	var peer string
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if host, _, err := net.SplitHostPort(info.Conn.RemoteAddr().String()); err == nil {
			peer = host
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, rawURL, body)
	if err != nil {
		return probe.Result{ErrorCode: "UsageError", ErrorMessage: err.Error()}
	}
	if body != nil {
		req.Header.Set("Content-Type", trustboundary.FormContentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return probe.Result{ErrorCode: "ClientError", ErrorMessage: err.Error(), Peer: peer}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return probe.Result{ErrorCode: "ClientError", ErrorMessage: "read answer: " + err.Error(), Peer: peer}
	}
	a := trustboundary.Answer{Status: resp.StatusCode, Code: trustboundary.ErrorCode(resp.Header, raw)}
	excerpt := strings.TrimSpace(string(raw))
	if len(excerpt) > maxExcerpt {
		excerpt = excerpt[:maxExcerpt]
	}
	return probe.Result{OK: resp.StatusCode/100 == 2, Output: a.String(), ErrorCode: a.Code, ErrorMessage: excerpt, Peer: peer}
}
