package labca

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/components/labca"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// The suite's namespaces and role (fixtures/aws/lab.yaml).
const (
	onNS  = "idlab-labca-on"  // labelled idlab.dev/lab-ca=enabled
	offNS = "idlab-labca-off" // not labelled
	role  = "arn:aws:iam::123456789012:role/labca-app"
)

// TestLabCADenialsRestOnTheCA is the test of the lab CA suite's deny rows
// (no //go:build e2e: make test runs it): the unlabelled namespace's pods
// are refused by TLS alone. labca-app trusts the app service account of
// both namespaces, so IAM would let either in; and a client that trusts
// the system roots only fails the emulator's handshake with an unknown
// authority, while one that trusts the bundle the webhook mounts (system
// roots and the lab CA) gets through.
func TestLabCADenialsRestOnTheCA(t *testing.T) {
	c := fixturecheck.AWSCloud(t, fixturecheck.Read(t, "aws/lab.yaml"))
	t.Run("iam admits both namespaces", func(t *testing.T) {
		for _, ns := range []string{onNS, offNS} {
			status, body := fixturecheck.WebIdentity(t, c, role, fixturecheck.Token(t, c, ns, "app", "sts.amazonaws.com"))
			require.Equal(t, http.StatusOK, status, "%s: %s", ns, body)
		}
	})
	t.Run("tls admits the bundle only", func(t *testing.T) {
		roots, err := os.ReadFile(labca.SystemRootsFile)
		if errors.Is(err, os.ErrNotExist) {
			roots = nil // a host without Debian's roots: the bundle is the lab CA alone
		} else {
			require.NoError(t, err)
		}
		b, err := labca.Assemble(roots, c.CA.PEM)
		require.NoError(t, err)
		system := x509.NewCertPool()
		system.AppendCertsFromPEM(roots)
		bundle := x509.NewCertPool()
		require.True(t, bundle.AppendCertsFromPEM(b.All))
		get := func(pool *x509.CertPool) error {
			tr := c.Client().Transport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			resp, err := (&http.Client{Transport: tr}).Get("https://sts.us-west-2.amazonaws.com/")
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
		var unknown x509.UnknownAuthorityError
		require.ErrorAs(t, get(system), &unknown, "the system roots alone do not trust the emulator")
		require.NoError(t, get(bundle))
	})
}
