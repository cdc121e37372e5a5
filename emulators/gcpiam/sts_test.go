package gcpiam_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2/google/externalaccount"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/emulators/oidc"
)

const stsURL = "https://sts.googleapis.com/v1/token"

func exchangeForm(audience, token string) url.Values {
	return url.Values{
		"grant_type":           {gcpiam.GrantTypeTokenExchange},
		"audience":             {audience},
		"requested_token_type": {gcpiam.TokenTypeAccessToken},
		"subject_token_type":   {gcpiam.TokenTypeJWT},
		"subject_token":        {token},
		"scope":                {gcpiam.ScopeCloudPlatform},
	}
}

func TestSTSExchange(t *testing.T) {
	l := newLab(t)
	other, err := l.issuers.Handler().AddIssuer("https://container.googleapis.com/v1/projects/idlab/locations/us-east1/clusters/other")
	require.NoError(t, err)
	_, err = other.AddKey("RS256")
	require.NoError(t, err)
	otherTok, err := other.MintServiceAccountToken(oidc.TokenRequest{Namespace: "team-a", ServiceAccount: "app", Audiences: []string{"idlab.svc.id.goog"}})
	require.NoError(t, err)
	valid := l.ksaToken(t, "team-a", "app", nil)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	expired := l.ksaToken(t, "team-a", "app", func(r *oidc.TokenRequest) { r.IssuedAt = time.Now().Add(-2 * time.Hour) })

	gkeAud := "identitynamespace:idlab.svc.id.goog:" + gkeIssuer
	tests := []struct {
		name     string
		audience string
		token    string
		errCode  string
		errDesc  string // prefix
		member   string
	}{
		{name: "GKE identitynamespace audience", audience: gkeAud, token: valid, member: "serviceAccount:idlab.svc.id.goog[team-a/app]"},
		{name: "bare workload pool", audience: "idlab.svc.id.goog", token: valid, member: "serviceAccount:idlab.svc.id.goog[team-a/app]"},
		{name: "wrong token audience", audience: gkeAud, token: l.ksaToken(t, "team-a", "app", func(r *oidc.TokenRequest) { r.Audiences = []string{"sts.amazonaws.com"} }),
			errCode: "invalid_grant", errDesc: "The audience in ID Token [sts.amazonaws.com] does not match the expected audience idlab.svc.id.goog."},
		{name: "unknown issuer", audience: "idlab.svc.id.goog", token: otherTok,
			errCode: "invalid_grant", errDesc: "The issuer in ID Token https://container.googleapis.com/v1/projects/idlab/locations/us-east1/clusters/other does not match"},
		{name: "expired", audience: gkeAud, token: expired, errCode: "invalid_grant", errDesc: "ID Token issued at "},
		{name: "bad signature", audience: gkeAud, token: tampered, errCode: "invalid_grant", errDesc: "Invalid JWT signature."},
		{name: "not a JWT", audience: gkeAud, token: "not-a-jwt", errCode: "invalid_grant", errDesc: "Unable to parse the ID Token."},
		{name: "unknown pool", audience: "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/nope/providers/p", token: valid,
			errCode: "invalid_target", errDesc: `The target service indicated by the "audience" parameters is invalid.`},
		{name: "malformed audience", audience: "idlab", token: valid, errCode: "invalid_request", errDesc: `Invalid value for "audience".`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := l.post(t, stsURL, exchangeForm(tc.audience, tc.token))
			if tc.errCode == "" {
				require.Equal(t, 200, status, body)
				require.Equal(t, gcpiam.TokenTypeAccessToken, body["issued_token_type"])
				require.Equal(t, "Bearer", body["token_type"])
				require.InDelta(t, 3600, body["expires_in"], 1)
				info, err := l.h.VerifyAccessToken(body["access_token"].(string))
				require.NoError(t, err)
				require.True(t, info.Federated)
				require.Equal(t, tc.member, info.Member())
				require.Equal(t, "system:serviceaccount:team-a:app", info.Subject)
				return
			}
			require.Equal(t, 400, status, body)
			require.Equal(t, tc.errCode, body["error"], body)
			require.True(t, strings.HasPrefix(body["error_description"].(string), tc.errDesc), body["error_description"])
			if tc.errCode != "invalid_request" {
				d := lastDecision(t, l.h)
				require.False(t, d.Allowed())
				require.Equal(t, "sts.googleapis.com/token", d.Action)
			}
		})
	}
}

func TestSTSProviderAudienceAndJSON(t *testing.T) {
	l := newLab(t)
	gh, err := l.issuers.Handler().AddIssuer("https://token.actions.githubusercontent.com")
	require.NoError(t, err)
	_, err = gh.AddKey("RS256")
	require.NoError(t, err)
	provider := "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/providers/actions"
	tok, err := gh.Sign(map[string]any{"iss": "https://token.actions.githubusercontent.com", "sub": "repo:org/app:ref:refs/heads/main",
		"aud": "https:" + provider, "iat": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix()})
	require.NoError(t, err)
	resp, err := l.srv.Client().Post(stsURL, "application/json", strings.NewReader(`{"grantType":"`+gcpiam.GrantTypeTokenExchange+
		`","audience":"`+provider+`","subjectTokenType":"`+gcpiam.TokenTypeJWT+`","requestedTokenType":"`+gcpiam.TokenTypeAccessToken+`","subjectToken":"`+tok+`"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	status, body := decode(t, resp)
	require.Equal(t, 200, status, body)
	info, err := l.h.VerifyAccessToken(body["access_token"].(string))
	require.NoError(t, err)
	require.Equal(t, "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/subject/repo:org/app:ref:refs/heads/main", info.Member())

	// Another provider ID of the pool is not the configured one.
	status, body = l.post(t, stsURL, exchangeForm(strings.Replace(provider, "actions", "other", 1), tok))
	require.Equal(t, 400, status)
	require.Equal(t, "invalid_target", body["error"])
}

// supplier hands the external account flow a KSA token.
type supplier func() (string, error)

func (s supplier) SubjectToken(context.Context, externalaccount.SupplierOptions) (string, error) {
	return s()
}

// TestWorkloadIdentityImpersonation drives golang.org/x/oauth2's external
// account flow (STS exchange, then generateAccessToken with the federated
// token) as a GKE workload would, with and without the
// roles/iam.workloadIdentityUser binding.
func TestWorkloadIdentityImpersonation(t *testing.T) {
	l := newLab(t)
	tests := []struct {
		name    string
		ns, ksa string
		allowed bool
	}{
		{name: "bound KSA", ns: "team-a", ksa: "app", allowed: true},
		{name: "unbound KSA", ns: "team-b", ksa: "app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := externalaccount.NewTokenSource(l.ctx(), externalaccount.Config{
				Audience:                       "identitynamespace:idlab.svc.id.goog:" + gkeIssuer,
				SubjectTokenType:               gcpiam.TokenTypeJWT,
				TokenURL:                       stsURL,
				ServiceAccountImpersonationURL: "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + reader + ":generateAccessToken",
				Scopes:                         []string{gcpiam.ScopeCloudPlatform},
				SubjectTokenSupplier:           supplier(func() (string, error) { return l.ksaToken(t, tc.ns, tc.ksa, nil), nil }),
			})
			require.NoError(t, err)
			tok, err := ts.Token()
			d := lastDecision(t, l.h)
			require.Equal(t, "serviceAccount:idlab.svc.id.goog["+tc.ns+"/"+tc.ksa+"]", d.Principal)
			require.Equal(t, "iam.serviceAccounts.getAccessToken", d.Action)
			require.Equal(t, tc.allowed, d.Allowed(), d.Reason)
			if !tc.allowed {
				require.ErrorContains(t, err, "status code 403")
				require.ErrorContains(t, err, "PERMISSION_DENIED")
				return
			}
			require.NoError(t, err)
			require.Equal(t, "roles/iam.workloadIdentityUser", d.Detail["role"])
			status, info := l.get(t, "https://oauth2.googleapis.com/tokeninfo?access_token="+url.QueryEscape(tok.AccessToken))
			require.Equal(t, 200, status, info)
			require.Equal(t, reader, info["email"])
		})
	}
}
