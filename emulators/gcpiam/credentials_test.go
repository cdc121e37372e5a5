package gcpiam_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iamcredentials/v1"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/internal/jwtverify"
)

func TestGenerateAccessToken(t *testing.T) {
	l := newLab(t)
	tests := []struct {
		name    string
		token   string
		target  string
		body    *iamcredentials.GenerateAccessTokenRequest
		code    int
		status  string
		message string
	}{
		{name: "token creator", token: l.token(t, caller), target: reader, code: 200},
		{name: "by unique id", token: l.token(t, caller), target: gcpiam.UniqueIDFor(reader), code: 200},
		{name: "no role", token: l.token(t, outsider), target: reader, code: 403, status: "PERMISSION_DENIED",
			message: "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."},
		{name: "unknown account", token: l.token(t, caller), target: "ghost@idlab.iam.gserviceaccount.com", code: 404, status: "NOT_FOUND",
			message: "Not found; Gaia id not found for email ghost@idlab.iam.gserviceaccount.com"},
		{name: "no token", target: reader, code: 401, status: "UNAUTHENTICATED",
			message: "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."},
		{name: "unknown token", token: "ya29.forged", target: reader, code: 401, status: "UNAUTHENTICATED",
			message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."},
		{name: "lifetime too long", token: l.token(t, caller), target: reader, code: 400, status: "INVALID_ARGUMENT",
			body: &iamcredentials.GenerateAccessTokenRequest{Scope: []string{gcpiam.ScopeCloudPlatform}, Lifetime: "7200s"}},
		{name: "no scope", token: l.token(t, caller), target: reader, code: 400, status: "INVALID_ARGUMENT", message: "Scope required.",
			body: &iamcredentials.GenerateAccessTokenRequest{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if body == nil {
				body = &iamcredentials.GenerateAccessTokenRequest{Scope: []string{gcpiam.ScopeCloudPlatform}, Lifetime: "1800s"}
			}
			before := time.Now()
			res, err := l.credentials(t, tc.token).Projects.ServiceAccounts.GenerateAccessToken("projects/-/serviceAccounts/"+tc.target, body).Do()
			if tc.code == 200 {
				require.NoError(t, err)
				exp, err := time.Parse(time.RFC3339, res.ExpireTime)
				require.NoError(t, err)
				require.WithinDuration(t, before.Add(30*time.Minute), exp, 5*time.Second)
				info, err := l.h.VerifyAccessToken(res.AccessToken)
				require.NoError(t, err)
				require.Equal(t, reader, info.Email)
				require.Equal(t, []string{gcpiam.ScopeCloudPlatform}, info.Scopes)
				d := lastDecision(t, l.h)
				require.True(t, d.Allowed())
				require.Equal(t, "serviceAccount:"+caller, d.Principal)
				return
			}
			var ge *googleapi.Error
			require.True(t, errors.As(err, &ge), "%v", err)
			require.Equal(t, tc.code, ge.Code, ge.Body)
			require.Contains(t, ge.Body, `"status": "`+tc.status+`"`)
			if tc.message != "" {
				require.Equal(t, tc.message, ge.Message)
			}
			if tc.code == http.StatusForbidden {
				d := lastDecision(t, l.h)
				require.False(t, d.Allowed())
				require.Equal(t, "serviceAccount:"+outsider, d.Principal)
				require.Equal(t, "projects/idlab/serviceAccounts/"+reader, d.Resource)
				require.Equal(t, "iam.serviceAccounts.getAccessToken", d.Action)
			}
		})
	}
}

func TestExpiredCallerToken(t *testing.T) {
	l := newLab(t)
	tok := l.token(t, caller)
	l.clk.Advance(time.Hour + time.Second)
	_, err := l.credentials(t, tok).Projects.ServiceAccounts.GenerateAccessToken("projects/-/serviceAccounts/"+reader,
		&iamcredentials.GenerateAccessTokenRequest{Scope: []string{gcpiam.ScopeCloudPlatform}}).Do()
	var ge *googleapi.Error
	require.True(t, errors.As(err, &ge), "%v", err)
	require.Equal(t, 401, ge.Code)
	_, err = l.h.VerifyAccessToken(tok)
	require.ErrorIs(t, err, gcpiam.ErrInvalidToken)
}

func TestDelegationChain(t *testing.T) {
	l := newLab(t)
	// outsider -> caller (implicitDelegation) -> reader (getAccessToken via caller's token creator)
	svc := l.credentials(t, l.token(t, outsider))
	req := &iamcredentials.GenerateAccessTokenRequest{Scope: []string{gcpiam.ScopeCloudPlatform}, Delegates: []string{"projects/-/serviceAccounts/" + caller}}
	_, err := svc.Projects.ServiceAccounts.GenerateAccessToken("projects/-/serviceAccounts/"+reader, req).Do()
	var ge *googleapi.Error
	require.True(t, errors.As(err, &ge), "%v", err)
	require.Equal(t, "Permission 'iam.serviceAccounts.implicitDelegation' denied on resource (or it may not exist).", ge.Message)

	require.NoError(t, l.h.AddBinding("projects/-/serviceAccounts/"+caller, "roles/iam.serviceAccountTokenCreator", "serviceAccount:"+outsider))
	res, err := svc.Projects.ServiceAccounts.GenerateAccessToken("projects/-/serviceAccounts/"+reader, req).Do()
	require.NoError(t, err)
	info, err := l.h.VerifyAccessToken(res.AccessToken)
	require.NoError(t, err)
	require.Equal(t, reader, info.Email)
}

func TestGenerateIDTokenVerifies(t *testing.T) {
	l := newLab(t)
	svc := l.credentials(t, l.token(t, caller))
	for _, includeEmail := range []bool{false, true} {
		res, err := svc.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+reader,
			&iamcredentials.GenerateIdTokenRequest{Audience: "https://app.example.com", IncludeEmail: includeEmail}).Do()
		require.NoError(t, err)

		// Verify as a relying party would: discovery at accounts.google.com, JWKS at www.googleapis.com.
		v := jwtverify.Verifier{Keys: &jwtverify.DiscoveryKeys{Client: l.srv.Client()}, Now: l.clk.Now}
		tok, err := v.Verify(context.Background(), res.Token)
		require.NoError(t, err)
		uid := gcpiam.UniqueIDFor(reader)
		require.Len(t, uid, 21)
		require.Equal(t, "https://accounts.google.com", tok.Claims.Issuer)
		require.Equal(t, []string{"https://app.example.com"}, tok.Claims.Audience)
		require.Equal(t, uid, tok.Claims.Subject)
		require.Equal(t, uid, tok.Claims.String("azp"))
		require.Equal(t, time.Hour, tok.Claims.Expiry.Sub(*tok.Claims.IssuedAt))
		require.Equal(t, "RS256", tok.Header.Alg)
		require.Len(t, tok.Header.Kid, 40)
		if includeEmail {
			require.Equal(t, reader, tok.Claims.String("email"))
			require.Equal(t, true, tok.Claims.Raw["email_verified"])
		} else {
			require.NotContains(t, tok.Claims.Raw, "email")
		}
	}
	// outsider may not.
	_, err := l.credentials(t, l.token(t, outsider)).Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+reader,
		&iamcredentials.GenerateIdTokenRequest{Audience: "x"}).Do()
	var ge *googleapi.Error
	require.True(t, errors.As(err, &ge))
	require.Equal(t, "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist).", ge.Message)
}

func TestSignJwtAndBlob(t *testing.T) {
	l := newLab(t)
	svc := l.credentials(t, l.token(t, caller))
	res, err := svc.Projects.ServiceAccounts.SignJwt("projects/-/serviceAccounts/"+reader,
		&iamcredentials.SignJwtRequest{Payload: `{"iss":"` + reader + `","sub":"x","aud":"y","exp":` + jsonInt(time.Now().Add(time.Hour).Unix()) + `}`}).Do()
	require.NoError(t, err)
	tok, err := jwtverify.ParseUnverified(res.SignedJwt)
	require.NoError(t, err)
	require.Equal(t, res.KeyId, tok.Header.Kid)
	require.Equal(t, reader, tok.Claims.Issuer)

	blob, err := svc.Projects.ServiceAccounts.SignBlob("projects/-/serviceAccounts/"+reader,
		&iamcredentials.SignBlobRequest{Payload: "aGVsbG8="}).Do()
	require.NoError(t, err)
	require.Equal(t, res.KeyId, blob.KeyId)
	require.NotEmpty(t, blob.SignedBlob)

	// The key is published for verifiers.
	status, jwks := l.get(t, "https://www.googleapis.com/service_accounts/v1/jwk/"+reader)
	require.Equal(t, 200, status)
	require.Equal(t, res.KeyId, jwks["keys"].([]any)[0].(map[string]any)["kid"])
}

func jsonInt(n int64) string { return strconv.FormatInt(n, 10) }
