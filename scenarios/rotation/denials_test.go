package rotation

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
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
	// azStaleApp is rotation-stale (fixtures/azure), federated with the aks
	// cluster's idlab-rotation/az-stale.
	azStaleApp = "09999999-9999-4999-8999-999999999999"
	azTenant   = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b" // fixturecheck.AzureTenant
	// azStaleAhead is how far ahead of the lab clock Entra checks
	// rotation-stale's assertions in the stale row (?ahead=4m&app=ID,
	// entra.Handler.SetAssertionClock): the read-once client is refused
	// about 60 s past its token's exp rather than 300 s, while azidentity,
	// which presents the first token until about 600 s after iat, stays
	// 60 s inside Entra's leeway.
	azStaleAhead = 4 * time.Minute
	// mtimeSessionAge is how old the mtime rows' sessions start
	// (?sessionAge=11m&role=ARN, awsiam.SetSessionAge): the 900 s session
	// the client asks for ends mtimeSession after it is issued, so the
	// rows see it end in 4 minutes rather than 15.
	mtimeSessionAge = 11 * time.Minute
	mtimeSession    = sessionSeconds*time.Second - mtimeSessionAge
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
	t.Parallel() // beside TestTokenRotation's minutes of waiting (rotation_test.go)
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
	t.Parallel() // beside TestTokenRotation's minutes of waiting (rotation_test.go)
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
	t.Parallel() // beside TestTokenRotation's minutes of waiting (rotation_test.go)
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

// TestLabRotationStaleAssertionRestsOnExp is the test of the stale
// federated token row: Entra refuses idlab-rotation/az-stale's 600 s token
// with AADSTS700024 once it is more than 5 minutes past its exp by the
// app's clock, and lets in the same service account's token within that
// time, so the refusal rests on the token's age alone. With the app's
// clock azStaleAhead ahead, as the row sets it, the refusal comes 60 s
// past exp, and the token azidentity still presents 590 s after iat is
// let in.
func TestLabRotationStaleAssertionRestsOnExp(t *testing.T) {
	t.Parallel() // beside TestTokenRotation's minutes of waiting (rotation_test.go)
	aks := fixturecheck.Issuer("aks")
	require.Equal(t, fixturecheck.AzureTenant, azTenant)
	for _, tc := range []struct {
		name   string
		age    time.Duration // since iat
		ahead  time.Duration // the app's clock
		status int
	}{
		{"past exp + 5 min", (tokenSeconds + 300 + 1) * time.Second, 0, http.StatusUnauthorized},
		{"within exp + 5 min", (tokenSeconds + 240) * time.Second, 0, http.StatusOK},
		{"shipped: the row's clock, 61 s past exp", (tokenSeconds + 61) * time.Second, azStaleAhead, http.StatusUnauthorized},
		{"flipped: no clock, 61 s past exp", (tokenSeconds + 61) * time.Second, 0, http.StatusOK},
		{"the row's clock: azidentity's first token 590 s after iat", (tokenSeconds - 10) * time.Second, azStaleAhead, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := idlabtest.NewCloud(t, idlabtest.CloudOptions{AzureFixtures: fixturecheck.Path(t, "azure/lab.yaml"), Issuers: []string{aks}})
			if tc.ahead > 0 {
				status, body := c.Admin(http.MethodPost, "/_idlab/clock?"+url.Values{"ahead": {tc.ahead.String()}, "app": {azStaleApp}}.Encode(), "")
				require.Equal(t, http.StatusOK, status, body)
			}
			tok, err := c.Issuer(aks).MintServiceAccountToken(oidc.TokenRequest{Namespace: ns, ServiceAccount: "az-stale",
				Audiences: []string{"api://AzureADTokenExchange"}, ExpirationSeconds: tokenSeconds, IssuedAt: time.Now().Add(-tc.age)})
			require.NoError(t, err)
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {azStaleApp}, "scope": {"https://storage.azure.com/.default"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {tok}}
			resp, err := c.Client().PostForm("https://login.microsoftonline.com/"+azTenant+"/oauth2/v2.0/token", form)
			require.NoError(t, err)
			var body struct {
				Description string `json:"error_description"`
				Codes       []int  `json:"error_codes"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode, body.Description)
			if tc.status == http.StatusOK {
				return
			}
			require.Equal(t, []int{700024}, body.Codes)
			require.True(t, strings.HasPrefix(body.Description, "AADSTS700024: Client assertion is not within its valid time range."), body.Description)
		})
	}
}

// TestLabRotationMtimeDenialRestsOnTheSession is the test of the mtime
// rows: with rotation-mtime's sessions issued mtimeSessionAge old, as the
// rows set it, a 900 s session reads app-a-data/hello.txt and ends
// mtimeSession after it is issued; past that S3 refuses it with
// ExpiredToken and the decision log names the session, while a session
// assumed afterwards, as the fixed client does, reads on. With another
// role's sessions aged instead, or none, the first session still reads.
func TestLabRotationMtimeDenialRestsOnTheSession(t *testing.T) {
	t.Parallel() // beside TestTokenRotation's minutes of waiting (rotation_test.go)
	for _, tc := range []struct {
		name, agedRole, code string
		lifetime             time.Duration
	}{
		{"shipped: the session is over", rolePfx + "mtime", "ExpiredToken", mtimeSession},
		{"flipped: another role's sessions aged", rolePfx + "kubelet", "", sessionSeconds * time.Second},
		{"flipped: no session aged", "", "", sessionSeconds * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fixturecheck.AWSCloud(t, fixturecheck.Read(t, "aws/lab.yaml"))
			if tc.agedRole != "" {
				status, body := c.Admin(http.MethodPost, "/_idlab/clock?"+url.Values{"sessionAge": {mtimeSessionAge.String()}, "role": {tc.agedRole}}.Encode(), "")
				require.Equal(t, http.StatusOK, status, body)
			}
			session := func() (*s3.Client, time.Time) {
				form := fixturecheck.WebIdentityForm(rolePfx+"mtime", fixturecheck.Token(t, c, ns, "mtime", "sts.amazonaws.com"))
				form.Set("DurationSeconds", strconv.Itoa(sessionSeconds))
				status, body := fixturecheck.STS(t, c, form)
				creds := fixturecheck.Credentials(t, status, body)
				return s3.New(s3.Options{Region: idlabtest.Region, HTTPClient: c.Client(), RetryMaxAttempts: 1,
					Credentials: credentials.StaticCredentialsProvider{Value: creds}}), creds.Expires
			}
			get := func(s *s3.Client) error {
				out, err := s.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("app-a-data"), Key: aws.String("hello.txt")})
				if err == nil {
					out.Body.Close()
				}
				return err
			}
			first, expires := session()
			require.InDelta(t, tc.lifetime.Seconds(), time.Until(expires).Seconds(), 2, "the session STS answered ends then")
			require.NoError(t, get(first))
			status, body := c.Admin(http.MethodPost, "/_idlab/clock?advance="+(mtimeSession+time.Second).String(), "")
			require.Equal(t, http.StatusOK, status, body)
			err := get(first)
			if tc.code == "" {
				require.NoError(t, err)
				return
			}
			var ae smithy.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tc.code, ae.ErrorCode())
			require.Equal(t, "The provided token has expired.", ae.ErrorMessage())
			ds := c.IAM.Decisions(awsiam.DecisionFilter{Action: "s3:Authenticate"})
			require.NotEmpty(t, ds)
			require.Contains(t, ds[len(ds)-1].Principal, ":assumed-role/rotation-mtime/")
			require.True(t, strings.HasPrefix(ds[len(ds)-1].Reason, "ExpiredToken: the session's credentials ("), ds[len(ds)-1].Reason)
			again, _ := session()
			require.NoError(t, get(again), "a session assumed afterwards reads on")
		})
	}
}
