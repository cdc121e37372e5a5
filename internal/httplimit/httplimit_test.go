package httplimit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// short are limits a test can wait out: the same fields as Default, in
// milliseconds.
var short = Limits{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond,
	IdleTimeout: 200 * time.Millisecond, MaxHeaderBytes: 1 << 10}

// serve runs a server with limits l whose handler reads the whole body and
// answers 200 with the body's length; it returns the address.
func serve(t *testing.T, l Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := l.Apply(&http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, strings.Repeat("x", len(b)))
	})})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

const (
	fullRequest = "POST / HTTP/1.1\r\nHost: s3.amazonaws.com\r\nContent-Length: 3\r\n\r\nabc"
	slowBody    = "POST / HTTP/1.1\r\nHost: s3.amazonaws.com\r\nContent-Length: 100\r\n\r\na"
	slowHeaders = "POST / HTTP/1.1\r\nHost: s3.amazonaws.com\r\n"
)

// closedWithin reads what the server sends until it closes the connection
// or wait passes; it reports whether the server closed it.
func closedWithin(t *testing.T, c net.Conn, wait time.Duration) bool {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(wait)))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	return true // EOF (err == nil from io.Copy) or a reset: the server let go
}

func TestLimitsCutOffStalledClients(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		send   string
		// idle: read one response first, then wait on the kept-alive
		// connection.
		idle       bool
		wantClosed bool
	}{
		{name: "slow body", limits: short, send: slowBody, wantClosed: true},
		{name: "slow headers", limits: short, send: slowHeaders, wantClosed: true},
		{name: "idle keep-alive", limits: short, send: fullRequest, idle: true, wantClosed: true},
		// The tests of the test: without limits the same clients hold the
		// connection for as long as they like.
		{name: "slow body without limits", limits: Limits{}, send: slowBody, wantClosed: false},
		{name: "slow headers without limits", limits: Limits{}, send: slowHeaders, wantClosed: false},
		{name: "idle keep-alive without limits", limits: Limits{}, send: fullRequest, idle: true, wantClosed: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", serve(t, tc.limits))
			require.NoError(t, err)
			defer c.Close()
			_, err = io.WriteString(c, tc.send)
			require.NoError(t, err)
			if tc.idle {
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.NoError(t, resp.Body.Close())
			}
			start := time.Now()
			require.Equal(t, tc.wantClosed, closedWithin(t, c, time.Second))
			if tc.wantClosed {
				require.Less(t, time.Since(start), time.Second, "cut off near the 200 ms limit")
			}
		})
	}
}

func TestLimitsHeaderSize(t *testing.T) {
	addr := serve(t, short)
	tests := []struct {
		name       string
		header     int // bytes of one extra header's value
		wantStatus int
	}{
		{name: "small headers", header: 100, wantStatus: http.StatusOK},
		// net/http reads MaxHeaderBytes plus its 4096 bytes of buffer slop
		// (a little more in practice) before refusing.
		{name: "over the limit and its slack", header: 2 * (short.MaxHeaderBytes + 4096), wantStatus: http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
			require.NoError(t, err)
			req.Header.Set("X-Amz-Meta-Big", strings.Repeat("a", tc.header))
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, tc.wantStatus, resp.StatusCode)
		})
	}
}

func TestApply(t *testing.T) {
	srv := Apply(&http.Server{Addr: "x"})
	require.Equal(t, "x", srv.Addr, "Apply keeps what the caller set")
	require.Equal(t, 60*time.Second, srv.ReadTimeout)
	require.Equal(t, 60*time.Second, srv.IdleTimeout)
	require.Equal(t, 10*time.Second, srv.ReadHeaderTimeout)
	require.Equal(t, 8<<10, srv.MaxHeaderBytes)
	require.Equal(t, Default(), Of(srv))
	require.NotEqual(t, Default(), Of(&http.Server{}), "a server built without Apply has no limits")
}
