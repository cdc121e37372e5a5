package cloud

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadIssuers(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
	path := filepath.Join(dir, "issuers.yaml")
	require.NoError(t, WriteIssuers(path, IssuersFile{Issuers: []IssuerConfig{{URL: "https://oidc.eks.us-west-2.amazonaws.com/id/ABC", PublicKeyFiles: []string{"sa.pub"}}}}))

	got, err := LoadIssuers(path)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Len(t, got[0].PublicKeys, 1)
	require.Equal(t, key.Public(), got[0].PublicKeys[0])

	bad := []struct{ name, body, want string }{
		{"unknown field", "issuers:\n- url: https://x\n  keyFiles: [a]\n", "field keyFiles not found"},
		{"missing url", "issuers:\n- publicKeyFiles: []\n", "url is required"},
		{"missing key file", "issuers:\n- url: https://x\n  publicKeyFiles: [nope.pub]\n", "no such file"},
		{"not yaml", "issuers: [\n", "parse issuers file"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".yaml")
			require.NoError(t, os.WriteFile(p, []byte(tc.body), 0o644))
			_, err := LoadIssuers(p)
			require.ErrorContains(t, err, tc.want)
		})
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk.pub"), []byte("junk"), 0o644))
	p := filepath.Join(dir, "junkkey.yaml")
	require.NoError(t, os.WriteFile(p, []byte("issuers:\n- url: https://x\n  publicKeyFiles: [junk.pub]\n"), 0o644))
	_, err = LoadIssuers(p)
	require.ErrorContains(t, err, "no PEM block")
}
