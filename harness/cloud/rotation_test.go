package cloud

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
)

// The rotation suite's roles and its key-rotation issuer (fixtures/aws/lab.yaml).
const (
	rotationRole   = "arn:aws:iam::123456789012:role/rotation-"
	rotationIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/0000000000000000000000000000E07A"
)

func labFixture(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../fixtures/aws/lab.yaml")
	require.NoError(t, err)
	return string(raw)
}

// postAdmin POSTs to an admin path and returns the status and body.
func postAdmin(t *testing.T, c *Cloud, path, body string) (int, string) {
	t.Helper()
	return adminDo(t, c, http.MethodPost, path, body)
}

// stsCode is the STS error code of an AssumeRoleWithWebIdentity answer ("" when allowed).
func stsCode(t *testing.T, c *Cloud, role, token string) string {
	t.Helper()
	status, body := webIdentityAs(t, c, role, token)
	if status == http.StatusOK {
		return ""
	}
	start, end := strings.Index(body, "<Code>"), strings.Index(body, "</Code>")
	require.True(t, start >= 0 && end > start, body)
	return body[start+len("<Code>") : end]
}

func webIdentityAs(t *testing.T, c *Cloud, role, token string) (int, string) {
	t.Helper()
	form := "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleSessionName=rotation&RoleArn=" + role + "&WebIdentityToken=" + token
	resp, err := c.Client().Post("https://sts.us-west-2.amazonaws.com/", "application/x-www-form-urlencoded", strings.NewReader(form))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestLabRotationExpiredTokenDenialRestsOnExp is the test of the rotation
// suite's caching-SDK row: the idlab-rotation/cached token is refused with
// ExpiredTokenException once past its exp, and the same service account's
// token within its lifetime is allowed by the same trust policy, so the
// refusal rests on the expiry alone.
func TestLabRotationExpiredTokenDenialRestsOnExp(t *testing.T) {
	c, minter := startCloudFor(t, eksIssuer, labFixture(t), nil)
	for _, tc := range []struct {
		name     string
		issuedAt time.Time
		code     string
	}{
		{"shipped: expired", time.Now().Add(-601 * time.Second), "ExpiredTokenException"},
		{"flipped: within its lifetime", time.Now().Add(-590 * time.Second), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: "idlab-rotation", ServiceAccount: "cached",
				Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: 600, IssuedAt: tc.issuedAt})
			require.NoError(t, err)
			require.Equal(t, tc.code, stsCode(t, c, rotationRole+"cached", tok))
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
		{"shipped: this role's clock", rotationRole + "expiry", "ExpiredToken"},
		{"flipped: another role's clock", rotationRole + "kubelet", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, minter := startCloudFor(t, eksIssuer, labFixture(t), nil)
			tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: "idlab-rotation", ServiceAccount: "app", Audiences: []string{"sts.amazonaws.com"}})
			require.NoError(t, err)
			// A 15-minute session, as the suite's SDK asks for (DurationSeconds 900).
			status, body := webIdentityAs(t, c, rotationRole+"expiry&DurationSeconds=900", tok)
			require.Equal(t, http.StatusOK, status, body)
			var resp struct {
				Creds struct{ AccessKeyId, SecretAccessKey, SessionToken, Expiration string } `xml:"AssumeRoleWithWebIdentityResult>Credentials"`
			}
			require.NoError(t, xml.Unmarshal([]byte(body), &resp))
			creds := resp.Creds
			exp, err := time.Parse(time.RFC3339, creds.Expiration)
			require.NoError(t, err)
			require.WithinDuration(t, time.Now().Add(15*time.Minute), exp, 5*time.Second)
			client := sts.New(sts.Options{Region: "us-west-2", HTTPClient: c.Client(), BaseEndpoint: aws.String(c.URL()), RetryMaxAttempts: 1,
				Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyId, creds.SecretAccessKey, creds.SessionToken)})
			_, err = client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			require.NoError(t, err)

			status, body = postAdmin(t, c, "/_idlab/clock?advance=15m&role="+tc.advancedRole, "")
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
			require.Empty(t, stsCode(t, c, rotationRole+"expiry", tok))
		})
	}
	c, _ := startCloudFor(t, eksIssuer, labFixture(t), nil)
	status, _ := postAdmin(t, c, "/_idlab/clock?advance=15m&role=arn:aws:iam::123456789012:role/nope", "")
	require.Equal(t, http.StatusNotFound, status)
	status, _ = postAdmin(t, c, "/_idlab/clock?advance=-1m&role="+rotationRole+"expiry", "")
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
			c, _ := startCloudFor(t, eksIssuer, labFixture(t), nil)
			status, body := postAdmin(t, c, "/_idlab/oidc/issuers", `{"url":"`+rotationIssuer+`"}`)
			require.Equal(t, http.StatusCreated, status, body)
			mint := func() (kid, token string) {
				status, body := postAdmin(t, c, "/_idlab/oidc/token", `{"issuer":"`+rotationIssuer+`","namespace":"idlab-rotation","serviceAccount":"app","audiences":["sts.amazonaws.com"]}`)
				require.Equal(t, http.StatusOK, status, body)
				var out struct{ Token string }
				require.NoError(t, json.Unmarshal([]byte(body), &out))
				hdr, _, _ := strings.Cut(out.Token, ".")
				return hdr, out.Token
			}
			addKey := func() string {
				status, body := postAdmin(t, c, "/_idlab/oidc/issuers/keys?signing=true&issuer="+rotationIssuer, "")
				require.Equal(t, http.StatusCreated, status, body)
				var out struct{ Kid string }
				require.NoError(t, json.Unmarshal([]byte(body), &out))
				return out.Kid
			}
			oldKid := addKey()
			_, oldTok := mint()
			require.Empty(t, stsCode(t, c, rotationRole+"keys", oldTok))
			addKey()
			_, newTok := mint()
			require.NotEqual(t, oldTok, newTok)
			c.STS.ForgetIssuerKeys(rotationIssuer) // the in-process STS need not wait for its key cache
			require.Empty(t, stsCode(t, c, rotationRole+"keys", newTok))
			require.Empty(t, stsCode(t, c, rotationRole+"keys", oldTok), "both keys published")
			if tc.removeOld {
				status, body := adminDo(t, c, http.MethodDelete, "/_idlab/oidc/issuers/keys/"+oldKid+"?issuer="+rotationIssuer, "")
				require.Equal(t, http.StatusNoContent, status, body)
			}
			c.STS.ForgetIssuerKeys(rotationIssuer)
			require.Equal(t, tc.code, stsCode(t, c, rotationRole+"keys", oldTok))
			require.Empty(t, stsCode(t, c, rotationRole+"keys", newTok))
		})
	}
}
