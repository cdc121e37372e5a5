package existing

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/harness/fixturetmpl"
)

// kindIssuer is the issuer of a cluster made by plain `kind create
// cluster` (kubeadm's default).
const kindIssuer = "https://kubernetes.default.svc.cluster.local"

// TestExistingRowsRestOnTheFixture is the test of the suite's rows (no
// //go:build e2e: make test runs it): with the suite's fixture template
// filled in for kind's issuer, and the issuer trusted from a key set as
// the lab trusts the cluster's, the emulator in process allows app's
// token, refuses other's with AccessDenied (the trust policy's sub), and
// refuses a token of the cluster's kid signed by another key with
// InvalidIdentityToken; with the key set holding the forging key too (the
// counterpart), the forged token is allowed, so the third row's refusal
// rests on the JWKS alone.
func TestExistingRowsRestOnTheFixture(t *testing.T) {
	clusterKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	kid, err := oidc.KeyID(clusterKey.Public())
	require.NoError(t, err)
	forgerKid, err := oidc.KeyID(forger.Public())
	require.NoError(t, err)
	own := jose.JSONWebKey{Key: clusterKey.Public(), KeyID: kid, Use: "sig", Algorithm: "RS256"}
	leaked := jose.JSONWebKey{Key: forger.Public(), KeyID: forgerKid, Use: "sig", Algorithm: "RS256"}
	now := time.Now()
	sign := func(key *rsa.PrivateKey, kid, sa string) string {
		tok, err := Forge(key, kid, kindIssuer, Namespace, sa, now)
		require.NoError(t, err)
		return tok
	}
	tests := []struct {
		name     string
		keys     []jose.JSONWebKey
		token    string
		wantCode string // "" allows
	}{
		{name: RowOwnToken, keys: []jose.JSONWebKey{own}, token: sign(clusterKey, kid, "app")},
		{name: RowOtherSA, keys: []jose.JSONWebKey{own}, token: sign(clusterKey, kid, "other"), wantCode: "AccessDenied"},
		{name: RowForeignKey, keys: []jose.JSONWebKey{own}, token: sign(forger, kid, "app"), wantCode: "InvalidIdentityToken"},
		{name: "counterpart: the forging key in the JWKS", keys: []jose.JSONWebKey{own, leaked}, token: sign(forger, forgerKid, "app")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := startCloud(t, tc.keys)
			form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {RoleARN},
				"RoleSessionName": {"s1"}, "WebIdentityToken": {tc.token}}
			resp, err := c.Client().PostForm("https://sts."+Region+".amazonaws.com/", form)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			if tc.wantCode == "" {
				require.Equal(t, 200, resp.StatusCode, string(body))
				require.Contains(t, string(body), "assumed-role/existing-app/s1")
				return
			}
			require.Contains(t, string(body), "<Code>"+tc.wantCode+"</Code>", string(body))
		})
	}
}

// startCloud runs the emulator in process with the suite's fixtures
// filled in for kindIssuer and that issuer trusted from keys, as the lab
// registers an existing cluster's (an OIDC provider in the lab account).
func startCloud(t *testing.T, keys []jose.JSONWebKey) *cloud.Cloud {
	t.Helper()
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join("testdata", "fixtures", "aws", "existing.tmpl.yaml"))
	require.NoError(t, err)
	out, err := fixturetmpl.Render("existing.tmpl.yaml", raw, map[string]string{ClusterName: kindIssuer})
	require.NoError(t, err)
	require.False(t, strings.Contains(string(out), "{{"))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "fixtures"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "fixtures", "existing.yaml"), out, 0o644))
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "existing.jwks"), set, 0o644))
	require.NoError(t, cloud.WriteIssuers(filepath.Join(dir, "issuers.yaml"), cloud.IssuersFile{Issuers: []cloud.IssuerConfig{
		{URL: kindIssuer, JWKSPath: "/openid/v1/jwks", JWKSFile: "existing.jwks", AWSAccount: "123456789012"}}}))
	c, err := cloud.New(cloud.Config{DataDir: filepath.Join(dir, "data"), FixturesDir: filepath.Join(dir, "fixtures"),
		IssuersFile: filepath.Join(dir, "issuers.yaml"), Region: Region})
	require.NoError(t, err)
	require.NoError(t, c.Start())
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}
