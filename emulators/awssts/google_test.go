package awssts_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/clock"
)

// Google ID tokens are federated without an IAM OIDC provider; the trust
// policy names accounts.google.com and sees :aud = azp (the client that
// asked), :oaud = the token's aud, :sub.
const googleFixture = `accounts:
  - id: "333333333333"
    roles:
      - name: gtoken
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Federated: accounts.google.com}
              Action: sts:AssumeRoleWithWebIdentity
              Condition:
                StringEquals:
                  "accounts.google.com:sub": "112233445566778899001"
                  "accounts.google.com:aud": "gsa-client-id"
                  "accounts.google.com:oaud": "sts.amazonaws.com/gtoken"
`

func TestGoogleFederation(t *testing.T) {
	ca, err := certs.NewCA("google test")
	require.NoError(t, err)
	clk := clock.New(nil)
	issuers, err := oidc.NewServer(oidc.Options{CA: ca, Now: clk.Now})
	require.NoError(t, err)
	t.Cleanup(issuers.Close)
	google, err := issuers.Handler().AddIssuer("https://accounts.google.com")
	require.NoError(t, err)
	_, err = google.AddKey("RS256")
	require.NoError(t, err)
	iam, err := awsiam.New(awsiam.Options{Now: clk.Now})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtureYAML("google.yaml", []byte(googleFixture)))
	srv, err := awssts.NewServer(awssts.Options{IAM: iam, CA: ca, Now: clk.Now, HTTPClient: issuers.Client()})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	l := &lab{sts: srv, iam: iam}

	now := time.Now()
	idToken := func(mut func(map[string]any)) string {
		c := map[string]any{"iss": "https://accounts.google.com", "sub": "112233445566778899001", "aud": "sts.amazonaws.com/gtoken",
			"azp": "gsa-client-id", "email": "gsa@p.iam.gserviceaccount.com", "email_verified": true,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mut != nil {
			mut(c)
		}
		tok, err := google.Sign(c)
		require.NoError(t, err)
		return tok
	}
	tests := []struct {
		name   string
		token  string
		code   string
		reason string // part of the IAM decision's reason for denials
	}{
		{"right service account", idToken(nil), "", ""},
		{"other subject", idToken(func(c map[string]any) { c["sub"] = "999" }), "AccessDenied", "accounts.google.com:sub"},
		{"other azp", idToken(func(c map[string]any) { c["azp"] = "other-client" }), "AccessDenied", "accounts.google.com:aud"},
		{"other aud", idToken(func(c map[string]any) { c["aud"] = "other-aud" }), "AccessDenied", "accounts.google.com:oaud"},
		{"expired", idToken(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Minute).Unix() }), "ExpiredTokenException", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iam.ResetDecisions()
			status, e, body := postWebIdentity(t, l, webIdentityForm(tc.token, "arn:aws:iam::333333333333:role/gtoken"))
			ds := iam.Decisions(awsiam.DecisionFilter{Action: "sts:AssumeRoleWithWebIdentity"})
			if tc.code == "" {
				require.Equal(t, http.StatusOK, status, body)
				require.Contains(t, body, "<Provider>accounts.google.com</Provider>")
				require.Contains(t, body, "<Audience>sts.amazonaws.com/gtoken</Audience>")
				require.Contains(t, body, "<SubjectFromWebIdentityToken>112233445566778899001</SubjectFromWebIdentityToken>")
				require.Len(t, ds, 1)
				require.Equal(t, awsiam.Allow, ds[0].Effect)
				return
			}
			require.Equal(t, tc.code, e.Error.Code, body)
			if tc.reason != "" {
				require.Len(t, ds, 1)
				require.Equal(t, awsiam.ImplicitDeny, ds[0].Effect)
				require.Contains(t, ds[0].Reason, tc.reason)
			}
		})
	}
}
