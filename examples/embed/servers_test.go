package embed_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsimds"
	"github.com/idlab/idlab/emulators/awss3"
	"github.com/idlab/idlab/emulators/awssns"
	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/emulators/azureblob"
	"github.com/idlab/idlab/emulators/eksauth"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/emulators/gcs"
	"github.com/idlab/idlab/emulators/oidc"
)

// server is what every emulator's Server offers, like httptest.Server.
type server interface {
	URL() string
	Client() *http.Client
	Close()
}

// tlsServer is an HTTPS emulator's Server: the PEM of its own CA.
type tlsServer interface {
	server
	CACertPEM() []byte
}

// start adapts a NewServer to the table.
func start[S server](newServer func() (S, error)) func() (server, error) {
	return func() (server, error) { return newServer() }
}

// TestZeroOptions: every emulator's NewServer works with zero Options from
// another module (each HTTPS server makes its own CA), its Client reaches
// it, and the PEM of CACertPEM alone is enough to trust it.
func TestZeroOptions(t *testing.T) {
	tests := []struct {
		name  string
		start func() (server, error)
		path  string // a GET the service answers with want
		want  int
		https bool
	}{
		{"oidc", start(func() (*oidc.Server, error) { return oidc.NewServer(oidc.Options{}) }), "/nothing/.well-known/openid-configuration", 404, true},
		{"awssts", start(func() (*awssts.Server, error) { return awssts.NewServer(awssts.Options{}) }), "/?Action=GetCallerIdentity&Version=2011-06-15", 403, true},
		{"awss3", start(func() (*awss3.Server, error) { return awss3.NewServer(awss3.Options{}) }), "/", 403, true},
		{"awssns", start(func() (*awssns.Server, error) { return awssns.NewServer(awssns.Options{}) }), "/?Action=ListTopics", 403, true},
		{"eksauth", start(func() (*eksauth.Server, error) { return eksauth.NewServer(eksauth.Options{}) }), "/", 404, true},
		{"entra", start(func() (*entra.Server, error) { return entra.NewServer(entra.Options{}) }), "/common/discovery/instance", 200, true},
		{"gcpiam", start(func() (*gcpiam.Server, error) { return gcpiam.NewServer(gcpiam.Options{}) }), "/.well-known/openid-configuration", 200, true},
		{"gcs", start(func() (*gcs.Server, error) { return gcs.NewServer(gcs.Options{}) }), "/storage/v1/b/none/o", 401, true},
		{"azureblob", start(func() (*azureblob.Server, error) { return azureblob.NewServer(azureblob.Options{}) }), "/none/data/hello.txt", 404, true},
		{"awsimds", start(func() (*awsimds.Server, error) { return awsimds.NewServer(awsimds.Options{}) }), "/latest/meta-data/instance-id", 200, false},
	}
	pems := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := tc.start()
			require.NoError(t, err)
			t.Cleanup(srv.Close)
			scheme := "http://"
			if tc.https {
				scheme = "https://"
			}
			require.True(t, strings.HasPrefix(srv.URL(), scheme+"127.0.0.1:"), srv.URL())
			require.Equal(t, tc.want, get(t, srv.Client(), srv.URL()+tc.path))

			ts, ok := srv.(tlsServer)
			require.Equal(t, tc.https, ok, "an HTTPS server, and only one, has CACertPEM")
			if !ok {
				return
			}
			pem := ts.CACertPEM()
			require.False(t, pems[string(pem)], "each server makes a CA of its own")
			pems[string(pem)] = true
			pool := x509.NewCertPool()
			require.True(t, pool.AppendCertsFromPEM(pem), "CACertPEM is a PEM certificate")
			own := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			t.Cleanup(own.CloseIdleConnections)
			require.Equal(t, tc.want, get(t, own, srv.URL()+tc.path), "a client trusting CACertPEM alone reaches it")
			pem[0] = 'X'
			require.NotEqual(t, pem, ts.CACertPEM(), "CACertPEM returns a copy")

			_, err = http.Get(srv.URL() + tc.path)
			var unknown x509.UnknownAuthorityError
			require.True(t, errors.As(err, &unknown), "the system roots do not trust it: %v", err)
		})
	}
}

// get GETs url with c and returns the status.
func get(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}
