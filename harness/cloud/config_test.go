package cloud

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
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

// TestLoadIssuersJWKS: an issuer the lab trusts but does not sign for gets
// its keys from a key set, inline or in a file, beside its PEM keys.
func TestLoadIssuersJWKS(t *testing.T) {
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: rsaKey.Public(), KeyID: "r", Use: "sig", Algorithm: "RS256"}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cluster.jwks"), set, 0o644))
	der, err := x509.MarshalPKIXPublicKey(ecKey.Public())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
	private, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: rsaKey, KeyID: "r", Use: "sig"}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "private.jwks"), private, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.jwks"), make([]byte, 2<<20), 0o644))

	tests := []struct {
		name     string
		ic       IssuerConfig
		want     []crypto.PublicKey
		errMatch string
	}{
		{name: "file", ic: IssuerConfig{URL: "https://kubernetes.default.svc.cluster.local", JWKSFile: "cluster.jwks"}, want: []crypto.PublicKey{rsaKey.Public()}},
		{name: "inline", ic: IssuerConfig{URL: "https://kubernetes.default.svc.cluster.local", JWKS: string(set)}, want: []crypto.PublicKey{rsaKey.Public()}},
		{name: "beside a PEM key", ic: IssuerConfig{URL: "https://a.example", PublicKeyFiles: []string{"sa.pub"}, JWKSFile: filepath.Join(dir, "cluster.jwks")},
			want: []crypto.PublicKey{ecKey.Public(), rsaKey.Public()}},
		{name: "private key in the set", ic: IssuerConfig{URL: "https://a.example", JWKSFile: "private.jwks"}, errMatch: "private or symmetric"},
		{name: "not a key set", ic: IssuerConfig{URL: "https://a.example", JWKS: `{"keys":"x"}`}, errMatch: "JWKS"},
		{name: "missing file", ic: IssuerConfig{URL: "https://a.example", JWKSFile: "nope.jwks"}, errMatch: "no such file"},
		{name: "oversized file", ic: IssuerConfig{URL: "https://a.example", JWKSFile: "big.jwks"}, errMatch: "larger than"},
		{name: "both", ic: IssuerConfig{URL: "https://a.example", JWKSFile: "cluster.jwks", JWKS: string(set)}, errMatch: "give one"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("issuers-%d.yaml", i))
			require.NoError(t, WriteIssuers(p, IssuersFile{Issuers: []IssuerConfig{tc.ic}}))
			got, err := LoadIssuers(p)
			if tc.errMatch != "" {
				require.ErrorContains(t, err, tc.errMatch)
				return
			}
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Len(t, got[0].PublicKeys, len(tc.want))
			for i, k := range tc.want {
				require.True(t, k.(interface{ Equal(crypto.PublicKey) bool }).Equal(got[0].PublicKeys[i]), "key %d", i)
			}
		})
	}
}

func TestIssuerConfigValidate(t *testing.T) {
	tests := []struct {
		name     string
		ic       IssuerConfig
		errMatch string
	}{
		{name: "lab issuer", ic: IssuerConfig{URL: "https://oidc.eks.us-west-2.amazonaws.com/id/ABC", PublicKeyFiles: []string{"sa.pub"}}},
		{name: "kind's issuer with its jwks path", ic: IssuerConfig{URL: "https://kubernetes.default.svc.cluster.local", JWKSPath: "/openid/v1/jwks", JWKSFile: "k.jwks"}},
		{name: "no keys (provider only)", ic: IssuerConfig{URL: "https://a.example", AWSAccount: "111122223333"}},
		{name: "no url", ic: IssuerConfig{}, errMatch: "url is required"},
		{name: "http", ic: IssuerConfig{URL: "http://a.example"}, errMatch: "want https"},
		{name: "no host", ic: IssuerConfig{URL: "https:///x"}, errMatch: "want https"},
		{name: "query", ic: IssuerConfig{URL: "https://a.example?x=1"}, errMatch: "query"},
		{name: "fragment", ic: IssuerConfig{URL: "https://a.example#f"}, errMatch: "fragment"},
		{name: "user info", ic: IssuerConfig{URL: "https://u@a.example"}, errMatch: "user info"},
		{name: "relative jwks path", ic: IssuerConfig{URL: "https://a.example", JWKSPath: "keys"}, errMatch: "jwksPath"},
		{name: "jwks and jwksFile", ic: IssuerConfig{URL: "https://a.example", JWKS: "{}", JWKSFile: "k.jwks"}, errMatch: "give one"},
		{name: "empty key file", ic: IssuerConfig{URL: "https://a.example", PublicKeyFiles: []string{""}}, errMatch: "empty publicKeyFiles"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.ic.Validate()
			if tc.errMatch == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.errMatch)
		})
	}
}
