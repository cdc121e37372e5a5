package cloud

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
)

// A real account's cluster: its issuer, account and a trust policy as the
// console writes it for IRSA.
const (
	realIssuer  = "https://oidc.eks.eu-central-1.amazonaws.com/id/ABC123"
	realHost    = "oidc.eks.eu-central-1.amazonaws.com/id/ABC123"
	realAccount = "111122223333"
	realRole    = "arn:aws:iam::111122223333:role/payments"
)

// realTrust is a role whose trust policy was copied unchanged from the
// real account; the fixture registers no OIDC provider.
const realTrust = `accounts:
  - id: "111122223333"
    roles:
      - name: payments
        trustPolicy: |
          {
            "Version": "2012-10-17",
            "Statement": [
              {
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/ABC123"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                  "StringEquals": {
                    "oidc.eks.eu-central-1.amazonaws.com/id/ABC123:sub": "system:serviceaccount:payments:api",
                    "oidc.eks.eu-central-1.amazonaws.com/id/ABC123:aud": "sts.amazonaws.com"
                  }
                }
              }
            ]
          }
`

// TestIssuerRegistersItsProvider: an issuer the lab hosts with an AWS
// account gets its IAM OIDC provider there, so a trust policy copied from
// the real account works unchanged; without the account the same token is
// refused as AWS refuses an issuer with no provider; a provider the
// fixtures register already is kept.
func TestIssuerRegistersItsProvider(t *testing.T) {
	tests := []struct {
		name     string
		account  string
		fixture  string
		wantCode int
		want     string
	}{
		{name: "registered by the lab", account: realAccount, fixture: realTrust, wantCode: http.StatusOK, want: "assumed-role/payments/s1"},
		{name: "no account, no provider", fixture: realTrust, wantCode: http.StatusBadRequest,
			want: "No OpenIDConnect provider found in your account for " + realIssuer},
		{name: "the fixtures' own provider is kept", account: realAccount, wantCode: http.StatusOK, want: "assumed-role/payments/s1",
			fixture: strings.Replace(realTrust, "    roles:", "    oidcProviders:\n      - url: "+realIssuer+"\n        clientIDs: [sts.amazonaws.com, other]\n    roles:", 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, minter := startCloudFor(t, realIssuer, tc.fixture, func(cfg *Config) {
				f := IssuersFile{Issuers: []IssuerConfig{{URL: realIssuer, PublicKeyFiles: []string{"sa.pub"}, AWSAccount: tc.account}}}
				require.NoError(t, WriteIssuers(cfg.IssuersFile, f))
			})
			p, err := c.IAM.OIDCProvider(realAccount, realIssuer)
			if tc.account == "" {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				require.Equal(t, "arn:aws:iam::"+realAccount+":oidc-provider/"+realHost, p.ARN)
			}
			tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: "payments", ServiceAccount: "api", Audiences: []string{"sts.amazonaws.com"}})
			require.NoError(t, err)
			form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {realRole},
				"RoleSessionName": {"s1"}, "WebIdentityToken": {tok}}
			resp, err := c.Client().PostForm("https://sts.eu-central-1.amazonaws.com/", form)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.wantCode, resp.StatusCode, string(b))
			require.Contains(t, string(b), tc.want)
		})
	}
}

func TestIssuersFileKeepsTheAccount(t *testing.T) {
	p := filepath.Join(t.TempDir(), "issuers.yaml")
	require.NoError(t, WriteIssuers(p, IssuersFile{Issuers: []IssuerConfig{{URL: realIssuer, AWSAccount: realAccount}}}))
	got, err := LoadIssuers(p)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, realAccount, got[0].AWSAccount)
}
