package labca

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/certs"
)

func newCA(t *testing.T, name string) *certs.CA {
	t.Helper()
	ca, err := certs.NewCA(name)
	require.NoError(t, err)
	return ca
}

// TestAssemble: the bundle is the system roots (certificates only, each
// once, the lab CA not among them) then the lab CA, and verifies both a
// lab leaf and a leaf of a system root.
func TestAssemble(t *testing.T) {
	lab, r1, r2 := newCA(t, "idlab lab CA"), newCA(t, "root one"), newCA(t, "root two")
	key := "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n"
	junk := "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
	tests := []struct {
		name      string
		roots     string
		wantRoots int
	}{
		{"no system roots", "", 0},
		{"two roots", string(r1.PEM) + string(r2.PEM), 2},
		{"comments and other blocks are dropped", "# Debian's bundle\n" + key + string(r1.PEM) + junk + string(r2.PEM), 2},
		{"a root twice counts once", string(r1.PEM) + string(r1.PEM), 1},
		{"the lab CA among the roots comes once, last", string(lab.PEM) + string(r1.PEM), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Assemble([]byte(tc.roots), lab.PEM)
			require.NoError(t, err)
			require.Equal(t, tc.wantRoots, b.Roots)
			require.Equal(t, string(lab.PEM), string(b.LabCA))
			require.True(t, strings.HasSuffix(string(b.All), "# idlab lab CA\n"+string(lab.PEM)), "the lab CA comes last")
			var n int
			for rest := b.All; ; {
				var block *pem.Block
				block, rest = pem.Decode(rest)
				if block == nil {
					break
				}
				require.Equal(t, "CERTIFICATE", block.Type)
				n++
			}
			require.Equal(t, tc.wantRoots+1, n)
			pool := x509.NewCertPool()
			require.True(t, pool.AppendCertsFromPEM(b.All))
			verify := func(ca *certs.CA) error {
				leaf, err := ca.Issue("sts.us-west-2.amazonaws.com")
				require.NoError(t, err)
				c, err := x509.ParseCertificate(leaf.Certificate[0])
				require.NoError(t, err)
				_, err = c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "sts.us-west-2.amazonaws.com", CurrentTime: time.Now()})
				return err
			}
			require.NoError(t, verify(lab))
			if tc.wantRoots > 0 {
				require.NoError(t, verify(r1))
			}
			require.Error(t, verify(newCA(t, "stranger")))
		})
	}
}

func TestAssembleRefusesABadLabCA(t *testing.T) {
	_, err := Assemble(nil, nil)
	require.ErrorContains(t, err, "no certificate")
	_, err = Assemble(nil, []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"))
	require.ErrorContains(t, err, "lab CA:")
}

func TestBundleHashFollowsTheContent(t *testing.T) {
	lab := newCA(t, "idlab lab CA")
	a, err := Assemble(nil, lab.PEM)
	require.NoError(t, err)
	b, err := Assemble(newCA(t, "root").PEM, lab.PEM)
	require.NoError(t, err)
	require.Len(t, a.Hash(), 16)
	require.Equal(t, a.Hash(), a.Hash())
	require.NotEqual(t, a.Hash(), b.Hash())
	require.Equal(t, map[string]string{BundleFile: string(b.All), LabCAFile: string(b.LabCA)}, b.Data())
}
