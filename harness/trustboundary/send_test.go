package trustboundary

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSend: a request reaches the server by a host name and by an IP
// address its certificate does not name, carries its form body, and comes
// back as the cloud's status and code.
func TestSend(t *testing.T) {
	var got struct{ host, ctype, body string }
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.host, got.ctype, got.body = r.Host, r.Header.Get("Content-Type"), string(b)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "<Error><Code>AccessDenied</Code></Error>")
	}))
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	d := &net.Dialer{}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, srv.Listener.Addr().String())
		}}}
	ctx := context.Background()
	for _, host := range []string{"example.com", "172.18.0.9"} {
		a, body, err := Send(ctx, client, host, Request{ID: "x", Method: "POST", Path: "/_idlab/clock?advance=13h", Body: "a=b"})
		require.NoError(t, err, host)
		require.Equal(t, Answer{Status: http.StatusForbidden, Code: "AccessDenied"}, a)
		require.Contains(t, body, "AccessDenied")
		require.Equal(t, host, got.host)
		require.Equal(t, FormContentType, got.ctype)
		require.Equal(t, "a=b", got.body)
	}
	require.Empty(t, client.Transport.(*http.Transport).TLSClientConfig.ServerName, "the caller's client is left as it was")

	_, _, err := Send(ctx, &http.Client{Transport: roundTripper(nil)}, "10.0.0.1", Request{Method: "GET", Path: "/"})
	require.ErrorContains(t, err, "not *http.Transport")
	_, _, err = Send(ctx, http.DefaultClient, "127.0.0.1:1", Request{ID: "closed", Method: "GET", Path: "/"})
	require.ErrorContains(t, err, "send closed to 127.0.0.1:1")
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
