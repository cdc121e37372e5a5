package cloud

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
)

// kindIssuer is the service-account issuer of a cluster made by plain
// `kind create cluster`: kubeadm's default.
const kindIssuer = "https://kubernetes.default.svc.cluster.local"

// trustedTrust is a role trusting kindIssuer's pods of existing-irsa:app,
// through the OIDC provider the issuers file registers.
const trustedTrust = `accounts:
  - id: "111122223333"
    roles:
      - name: existing
        trustPolicy: |
          {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/kubernetes.default.svc.cluster.local"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
              "kubernetes.default.svc.cluster.local:sub": "system:serviceaccount:existing-irsa:app",
              "kubernetes.default.svc.cluster.local:aud": "sts.amazonaws.com"}}}]}
`

// TestTrustedIssuer: an existing cluster's issuer, trusted from its key set
// (jwksFile) rather than hosted with lab keys, with its CA made elsewhere
// (caDir): a token its key signed for the trusted service account is
// accepted; another service account's is refused by the trust policy; a
// token naming the cluster's kid but signed by another key is refused as
// an invalid token.
func TestTrustedIssuer(t *testing.T) {
	clusterKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	kid, err := oidc.KeyID(clusterKey.Public())
	require.NoError(t, err)
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: clusterKey.Public(), KeyID: kid, Use: "sig", Algorithm: "RS256"}}})
	require.NoError(t, err)
	caDir := t.TempDir()
	ca, err := certs.LoadOrCreate(caDir, "made elsewhere")
	require.NoError(t, err)

	c, _ := startCloudFor(t, kindIssuer, trustedTrust, func(cfg *Config) {
		dir := filepath.Dir(cfg.IssuersFile)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "existing.jwks"), set, 0o644))
		f := IssuersFile{Issuers: []IssuerConfig{{URL: kindIssuer, JWKSPath: "/openid/v1/jwks", JWKSFile: "existing.jwks", AWSAccount: realAccount}}}
		require.NoError(t, WriteIssuers(cfg.IssuersFile, f))
		cfg.CADir = caDir
	})
	require.Equal(t, ca.PEM, c.CA.PEM, "the CA is caDir's")

	sign := func(key *rsa.PrivateKey, sa string) string {
		t.Helper()
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
		require.NoError(t, err)
		now := time.Now()
		tok, err := jwt.Signed(s).Claims(jwt.Claims{Issuer: kindIssuer, Subject: "system:serviceaccount:existing-irsa:" + sa,
			Audience: jwt.Audience{"sts.amazonaws.com"}, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			Expiry: jwt.NewNumericDate(now.Add(time.Hour))}).Serialize()
		require.NoError(t, err)
		return tok
	}
	tests := []struct {
		name     string
		token    string
		wantCode int
		want     string
	}{
		{name: "the cluster's token", token: sign(clusterKey, "app"), wantCode: http.StatusOK, want: "assumed-role/existing/s1"},
		{name: "another service account", token: sign(clusterKey, "other"), wantCode: http.StatusForbidden, want: "<Code>AccessDenied</Code>"},
		{name: "signed by a key not in the cluster's JWKS", token: sign(otherKey, "app"), wantCode: http.StatusBadRequest, want: "<Code>InvalidIdentityToken</Code>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {"arn:aws:iam::111122223333:role/existing"},
				"RoleSessionName": {"s1"}, "WebIdentityToken": {tc.token}}
			resp, err := c.Client().PostForm("https://sts.us-west-2.amazonaws.com/", form)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.wantCode, resp.StatusCode, string(b))
			require.True(t, strings.Contains(string(b), tc.want), string(b))
		})
	}
}
