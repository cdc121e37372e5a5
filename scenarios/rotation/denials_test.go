package rotation

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/idlabtest"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// The suite's names, shared by its e2e rows and the tests of them here.
const (
	account = "123456789012"
	ns      = "idlab-rotation"
	rolePfx = "arn:aws:iam::" + account + ":role/rotation-"
	// tokenSeconds is the projected token's lifetime the webhook asks for.
	tokenSeconds = 600
	// sessionSeconds is the STS session the SDK asks for (the STS minimum).
	sessionSeconds = 900
	// keyIssuer is the key-rotation issuer (fixtures/aws/lab.yaml): an
	// EKS-style issuer the suite hosts in the emulator. The eks cluster's
	// own issuer publishes the kube-apiserver's key, which every suite's
	// pods use, so removing it would break them; this one is the suite's
	// alone, and STS verifies its tokens the same way: discovery, JWKS over
	// HTTPS, its cache.
	keyIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/0000000000000000000000000000E07A"
)

// stsCode is the STS error code of an AssumeRoleWithWebIdentity answer for
// role with token, "" when it is allowed.
func stsCode(t *testing.T, c *idlabtest.Cloud, role, token string) string {
	t.Helper()
	status, body := fixturecheck.WebIdentity(t, c, role, token)
	if status == http.StatusOK {
		return ""
	}
	code := fixturecheck.Code(body)
	require.NotEmpty(t, code, body)
	return code
}

// TestLabRotationExpiredTokenDenialRestsOnExp is the test of the
// caching-SDK row (no //go:build e2e: make test runs it): the
// idlab-rotation/cached token is refused with ExpiredTokenException once
// past its exp, and the same service account's token within its lifetime
// is allowed by the same trust policy, so the refusal rests on the expiry
// alone.
func TestLabRotationExpiredTokenDenialRestsOnExp(t *testing.T) {
	c := fixturecheck.AWSCloud(t, fixturecheck.Read(t, "aws/lab.yaml"))
	for _, tc := range []struct {
		name     string
		issuedAt time.Time
		code     string
	}{
		{"shipped: expired", time.Now().Add(-(tokenSeconds + 1) * time.Second), "ExpiredTokenException"},
		{"flipped: within its lifetime", time.Now().Add(-(tokenSeconds - 10) * time.Second), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := c.Issuer(fixturecheck.Issuer("eks")).MintServiceAccountToken(oidc.TokenRequest{Namespace: ns, ServiceAccount: "cached",
				Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: tokenSeconds, IssuedAt: tc.issuedAt})
			require.NoError(t, err)
			require.Equal(t, tc.code, stsCode(t, c, rolePfx+"cached", tok))
		})
	}
}

// TestLabRotationExpiryDenialRestsOnTheRoleClock is the test of the
// STS-credentials-expire row: after the clock is advanced 15 minutes for
// rotation-expiry, the session issued before is refused with ExpiredToken;
// advanced for another role instead, the same session keeps working. The
// lab clock itself does not move, so other suites' tokens are untouched.
func TestLabRotationExpiryDenialRestsOnTheRoleClock(t *testing.T) {
	for _, tc := range []struct {
		name, advancedRole, code string
	}{
		{"shipped: this role's clock", rolePfx + "expiry", "ExpiredToken"},
		{"flipped: another role's clock", rolePfx + "kubelet", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fixturecheck.AWSCloud(t, fixturecheck.Read(t, "aws/lab.yaml"))
			tok := fixturecheck.Token(t, c, ns, "app", "sts.amazonaws.com")
			// A 15-minute session, as the suite's SDK asks for.
			form := fixturecheck.WebIdentityForm(rolePfx+"expiry", tok)
			form.Set("DurationSeconds", strconv.Itoa(sessionSeconds))
			status, body := fixturecheck.STS(t, c, form)
			creds := fixturecheck.Credentials(t, status, body)
			var resp struct {
				Expiration string `xml:"AssumeRoleWithWebIdentityResult>Credentials>Expiration"`
			}
			require.NoError(t, xml.Unmarshal([]byte(body), &resp))
			exp, err := time.Parse(time.RFC3339, resp.Expiration)
			require.NoError(t, err)
			require.WithinDuration(t, time.Now().Add(sessionSeconds*time.Second), exp, 5*time.Second)
			client := sts.New(sts.Options{Region: idlabtest.Region, HTTPClient: c.Client(), RetryMaxAttempts: 1,
				Credentials: credentials.StaticCredentialsProvider{Value: creds}})
			_, err = client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			require.NoError(t, err)

			status, body = c.Admin(http.MethodPost, "/_idlab/clock?advance=15m&role="+tc.advancedRole, "")
			require.Equal(t, http.StatusOK, status, body)
			var out struct{ SessionsAged int }
			require.NoError(t, json.Unmarshal([]byte(body), &out))
			require.Equal(t, time.Duration(0), c.Clock.Offset(), "the lab clock stays put")

			_, err = client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			if tc.code == "" {
				require.NoError(t, err)
				require.Zero(t, out.SessionsAged)
			} else {
				var ae smithy.APIError
				require.ErrorAs(t, err, &ae)
				require.Equal(t, tc.code, ae.ErrorCode())
				require.Equal(t, "The security token included in the request is expired", ae.ErrorMessage())
				require.Equal(t, 1, out.SessionsAged)
			}
			// The web identity token is verified against lab time, untouched.
			require.Empty(t, stsCode(t, c, rolePfx+"expiry", tok))
		})
	}
	c := fixturecheck.AWSCloud(t, fixturecheck.Read(t, "aws/lab.yaml"))
	status, _ := c.Admin(http.MethodPost, "/_idlab/clock?advance=15m&role=arn:aws:iam::"+account+":role/nope", "")
	require.Equal(t, http.StatusNotFound, status)
	status, _ = c.Admin(http.MethodPost, "/_idlab/clock?advance=-1m&role="+rolePfx+"expiry", "")
	require.Equal(t, http.StatusBadRequest, status)
}

// TestLabRotationKeyDenialRestsOnTheJWKS is the test of the signing-key
// rotation row: through the admin API the suite uses, a token signed with
// the old key works while the old and the new key are both published and is
// refused with InvalidIdentityToken once the old key is removed; with the
// old key kept, it goes on working.
func TestLabRotationKeyDenialRestsOnTheJWKS(t *testing.T) {
	for _, tc := range []struct {
		name      string
		removeOld bool
		code      string
	}{
		{"shipped: old key removed", true, "InvalidIdentityToken"},
		{"flipped: old key kept", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fixturecheck.AWSCloud(t, fixturecheck.Read(t, "aws/lab.yaml"))
			admin := func(method, path, body string, want int) string {
				t.Helper()
				status, out := c.Admin(method, path, body)
				require.Equal(t, want, status, out)
				return out
			}
			admin(http.MethodPost, "/_idlab/oidc/issuers", `{"url":"`+keyIssuer+`"}`, http.StatusCreated)
			mint := func() string {
				var out struct{ Token string }
				require.NoError(t, json.Unmarshal([]byte(admin(http.MethodPost, "/_idlab/oidc/token",
					`{"issuer":"`+keyIssuer+`","namespace":"`+ns+`","serviceAccount":"app","audiences":["sts.amazonaws.com"]}`, http.StatusOK)), &out))
				return out.Token
			}
			addKey := func() string {
				var out struct{ Kid string }
				require.NoError(t, json.Unmarshal([]byte(admin(http.MethodPost, "/_idlab/oidc/issuers/keys?signing=true&issuer="+keyIssuer, "", http.StatusCreated)), &out))
				return out.Kid
			}
			oldKid := addKey()
			oldTok := mint()
			require.Empty(t, stsCode(t, c, rolePfx+"keys", oldTok))
			addKey()
			newTok := mint()
			require.NotEqual(t, strings.SplitN(oldTok, ".", 2)[0], strings.SplitN(newTok, ".", 2)[0], "signed with another key")
			c.STS.ForgetIssuerKeys(keyIssuer) // the in-process STS need not wait for its key cache
			require.Empty(t, stsCode(t, c, rolePfx+"keys", newTok))
			require.Empty(t, stsCode(t, c, rolePfx+"keys", oldTok), "both keys published")
			if tc.removeOld {
				admin(http.MethodDelete, "/_idlab/oidc/issuers/keys/"+oldKid+"?issuer="+keyIssuer, "", http.StatusNoContent)
			}
			c.STS.ForgetIssuerKeys(keyIssuer)
			require.Equal(t, tc.code, stsCode(t, c, rolePfx+"keys", oldTok))
			require.Empty(t, stsCode(t, c, rolePfx+"keys", newTok))
		})
	}
}
