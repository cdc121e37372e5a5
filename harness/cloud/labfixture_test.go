package cloud

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
)

// eksIssuer is the lab's eks issuer (harness.IssuerID("eks"); harness's
// config test checks fixtures/aws/lab.yaml trusts it).
const eksIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/72384992066C61667C0CF6C50CD43852"

// fixtureVariant is a fixture as shipped or with a denial's condition
// widened away.
type fixtureVariant struct {
	name    string
	fixture string
	widened bool
}

func variants(shipped, widened string) []fixtureVariant {
	return []fixtureVariant{{"shipped", shipped, false}, {"widened", widened, true}}
}

// subCondition matches the trust policies' exact-subject conditions.
var subCondition = regexp.MustCompile(`(?m)^(\s+)StringEquals:(\n\s+\S+:sub: )system:serviceaccount:\S+`)

// TestLabTrustDenialsRestOnTheirConditions is the test of the scenarios'
// deny rows: with the fixture the lab ships, the IRSA rows the suites expect
// refused are refused; with the same fixture whose subject conditions are
// widened to any service account, every one of them is allowed. So a
// scenario row that says "denied" fails the day the condition it rests on
// goes away.
func TestLabTrustDenialsRestOnTheirConditions(t *testing.T) {
	raw, err := os.ReadFile("../../fixtures/aws/lab.yaml")
	require.NoError(t, err)
	shipped := string(raw)
	widened := subCondition.ReplaceAllString(shipped, `${1}StringLike:${2}"system:serviceaccount:*"`)
	require.NotEqual(t, shipped, widened, "the flip must change the fixture")

	rows := []struct {
		name, ns, sa, role string
		allowed            bool // with the shipped fixture
	}{
		{"smoke right-sa", "idlab-smoke", "app-a", "app-a", true},
		{"smoke other-sa", "idlab-smoke", "app-b", "app-a", false},
		{"irsa own-role", "idlab-irsa", "app", "irsa-app", true},
		{"irsa other-sa-same-namespace", "idlab-irsa", "other", "irsa-app", false},
		{"irsa same-sa-other-namespace", "idlab-irsa-other", "app", "irsa-app", false},
		{"irsa wildcard-trust-too-wide", "idlab-irsa-other", "app", "irsa-wide", true},
		{"webhook audience typo's SA", "idlab-irsa", "typo", "irsa-app", false},
		{"pyclients own-role", "idlab-pyclients", "app", "py-app", true},
		{"pyclients other-sa-same-namespace", "idlab-pyclients", "other", "py-app", false},
		{"pyclients same-sa-other-namespace", "idlab-pyclients-other", "app", "py-app", false},
	}
	for _, fx := range variants(shipped, widened) {
		t.Run(fx.name, func(t *testing.T) {
			c, minter := startCloudFor(t, eksIssuer, fx.fixture, nil)
			for _, r := range rows {
				tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: r.ns, ServiceAccount: r.sa, Audiences: []string{"sts.amazonaws.com"}})
				require.NoError(t, err)
				form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleSessionName": {"fixture-check"},
					"RoleArn": {"arn:aws:iam::123456789012:role/" + r.role}, "WebIdentityToken": {tok}}
				resp, err := c.Client().Post("https://sts.us-west-2.amazonaws.com/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := http.StatusForbidden
				if r.allowed || fx.widened {
					want = http.StatusOK
				}
				require.Equal(t, want, resp.StatusCode, "%s with the %s fixture: %s", r.name, fx.name, body)
			}
		})
	}
}

// TestLabS3DenialsRestOnThePolicy does the same for the S3 rows of the
// smoke and Python clients suites: app-a and py-app are refused app-b's
// bucket because their policies name only app-a-data; widened to every
// resource, the same requests succeed.
func TestLabS3DenialsRestOnThePolicy(t *testing.T) {
	raw, err := os.ReadFile("../../fixtures/aws/lab.yaml")
	require.NoError(t, err)
	shipped := string(raw)
	for _, tc := range []struct {
		name, ns, sa, role, own string
		put                     bool // the suite also checks PutObject
	}{
		{"smoke", "idlab-smoke", "app-a", "app-a", "Resource: [arn:aws:s3:::app-a-data, arn:aws:s3:::app-a-data/*]", true},
		{"pyclients", "idlab-pyclients", "app", "py-app", "Sid: PyAppReadsAppAData\n                Effect: Allow\n                Action: s3:GetObject\n                Resource: arn:aws:s3:::app-a-data/*", false},
	} {
		require.Equal(t, 1, strings.Count(shipped, tc.own), tc.name)
		widened := strings.Replace(shipped, tc.own, tc.own[:strings.LastIndex(tc.own, "Resource:")]+`Resource: "*"`, 1)
		for _, fx := range variants(shipped, widened) {
			t.Run(tc.name+"/"+fx.name, func(t *testing.T) {
				c, minter := startCloudFor(t, eksIssuer, fx.fixture, nil)
				tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: tc.ns, ServiceAccount: tc.sa, Audiences: []string{"sts.amazonaws.com"}})
				require.NoError(t, err)
				creds := assumeWithWebIdentity(t, c, "arn:aws:iam::123456789012:role/"+tc.role, tok)
				s3c := s3.NewFromConfig(aws.Config{Region: "us-west-2", HTTPClient: c.Client(),
					Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)},
					func(o *s3.Options) { o.RetryMaxAttempts = 1 })
				ctx := context.Background()
				_, err = s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("app-a-data"), Key: aws.String("hello.txt")})
				require.NoError(t, err, "own bucket")
				errs := []error{}
				_, err = s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("app-b-data"), Key: aws.String("secret.txt")})
				errs = append(errs, err)
				if tc.put {
					_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("app-b-data"), Key: aws.String("planted.txt"), Body: strings.NewReader("x")})
					errs = append(errs, err)
				}
				for _, e := range errs {
					if fx.widened {
						require.NoError(t, e, "app-b-data once the policy allows it")
						continue
					}
					var ae smithy.APIError
					require.ErrorAs(t, e, &ae)
					require.Equal(t, "AccessDenied", ae.ErrorCode())
				}
			})
		}
	}
}

// TestLabAudienceDenialRestsOnTheClientIDs: a token whose audience is
// mistyped (sts.amazonaws.co, the audience-typo rows) is refused with
// InvalidIdentityToken because the OIDC provider's client IDs do not list
// it; with the typo added to them, STS no longer rejects the token (the
// trust policy's aud condition then refuses it with AccessDenied instead).
func TestLabAudienceDenialRestsOnTheClientIDs(t *testing.T) {
	raw, err := os.ReadFile("../../fixtures/aws/lab.yaml")
	require.NoError(t, err)
	shipped := string(raw)
	// The eks issuer's provider in account 123456789012.
	const ids = "url: " + eksIssuer + "\n        clientIDs: [sts.amazonaws.com]"
	require.Equal(t, 1, strings.Count(shipped, ids))
	widened := strings.Replace(shipped, ids, "url: "+eksIssuer+"\n        clientIDs: [sts.amazonaws.com, sts.amazonaws.co]", 1)
	for _, fx := range variants(shipped, widened) {
		t.Run(fx.name, func(t *testing.T) {
			c, minter := startCloudFor(t, eksIssuer, fx.fixture, nil)
			for _, r := range []struct{ ns, role string }{{"idlab-irsa", "irsa-app"}, {"idlab-pyclients", "py-app"}} {
				tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: r.ns, ServiceAccount: "app", Audiences: []string{"sts.amazonaws.co"}})
				require.NoError(t, err)
				form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleSessionName": {"fixture-check"},
					"RoleArn": {"arn:aws:iam::123456789012:role/" + r.role}, "WebIdentityToken": {tok}}
				resp, err := c.Client().Post("https://sts.us-west-2.amazonaws.com/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if fx.widened {
					require.NotContains(t, string(body), "<Code>InvalidIdentityToken</Code>", r.role)
					require.Contains(t, string(body), "<Code>AccessDenied</Code>", r.role)
					continue
				}
				require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", r.role, body)
				require.Contains(t, string(body), "<Code>InvalidIdentityToken</Code>", r.role)
			}
		})
	}
}

// assumeWithWebIdentity trades token for role credentials at the cloud's STS.
func assumeWithWebIdentity(t *testing.T, c *Cloud, role, token string) (creds struct{ AccessKeyID, SecretAccessKey, SessionToken string }) {
	t.Helper()
	form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleSessionName": {"fixture-check"},
		"RoleArn": {role}, "WebIdentityToken": {token}}
	resp, err := c.Client().Post("https://sts.us-west-2.amazonaws.com/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Result struct {
			Credentials struct {
				AccessKeyId, SecretAccessKey, SessionToken string
			}
		} `xml:"AssumeRoleWithWebIdentityResult"`
	}
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, xml.NewDecoder(resp.Body).Decode(&out))
	cr := out.Result.Credentials
	creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken = cr.AccessKeyId, cr.SecretAccessKey, cr.SessionToken
	require.NotEmpty(t, creds.AccessKeyID)
	return creds
}

// TestLabGoogleToAWSDenialRestsOnTheSubject: gke-reader trusts only
// team-a-reader's Google unique ID; team-b-reader's ID token is refused as
// shipped and accepted once the :sub condition is widened.
// TestLabGoogleToAWSDenialRestsOnTheAudience does the same for the token's
// audience (:oaud).
func TestLabGoogleToAWSDenialRestsOnTheSubject(t *testing.T) {
	raw, err := os.ReadFile("../../fixtures/aws/lab.yaml")
	require.NoError(t, err)
	shipped := string(raw)
	const exact = "StringEquals:\n                  accounts.google.com:sub: \"120787639386929670157\""
	require.Contains(t, shipped, exact)
	widened := strings.Replace(shipped, exact, "StringLike:\n                  accounts.google.com:sub: \"*\"", 1)
	require.NotContains(t, widened, exact)

	for _, fx := range variants(shipped, widened) {
		t.Run(fx.name, func(t *testing.T) {
			c, _ := startCloudFor(t, eksIssuer, fx.fixture, func(cfg *Config) { cfg.GCPFixtures = "../../fixtures/gcp" })
			for _, r := range []struct {
				gsa     string
				allowed bool
			}{{"team-a-reader@idlab.iam.gserviceaccount.com", true}, {"team-b-reader@idlab.iam.gserviceaccount.com", false}} {
				status, body := assumeGKEReader(t, c, r.gsa, "sts.amazonaws.com")
				want := http.StatusForbidden
				if r.allowed || fx.widened {
					want = http.StatusOK
				}
				require.Equal(t, want, status, "%s with the %s fixture: %s", r.gsa, fx.name, body)
			}
		})
	}
}

// TestLabGoogleToAWSDenialRestsOnTheAudience: team-a-reader's ID token for
// another audience is refused by gke-reader's :oaud condition as shipped and
// accepted once that condition is gone.
func TestLabGoogleToAWSDenialRestsOnTheAudience(t *testing.T) {
	raw, err := os.ReadFile("../../fixtures/aws/lab.yaml")
	require.NoError(t, err)
	shipped := string(raw)
	const cond = "\n                  accounts.google.com:oaud: sts.amazonaws.com"
	require.Contains(t, shipped, cond)
	widened := strings.Replace(shipped, cond, "", 1)

	for _, fx := range variants(shipped, widened) {
		t.Run(fx.name, func(t *testing.T) {
			c, _ := startCloudFor(t, eksIssuer, fx.fixture, func(cfg *Config) { cfg.GCPFixtures = "../../fixtures/gcp" })
			for _, r := range []struct {
				audience string
				allowed  bool
			}{{"sts.amazonaws.com", true}, {"sts.amazonaws.com.example", false}} {
				status, body := assumeGKEReader(t, c, "team-a-reader@idlab.iam.gserviceaccount.com", r.audience)
				want := http.StatusForbidden
				if r.allowed || fx.widened {
					want = http.StatusOK
				}
				require.Equal(t, want, status, "audience %s with the %s fixture: %s", r.audience, fx.name, body)
				if want == http.StatusForbidden {
					require.Contains(t, body, "<Code>AccessDenied</Code>")
				}
			}
		})
	}
}

// assumeGKEReader trades a Google ID token of gsa for audience at STS for
// gke-reader, as gtoken's pods do, and returns STS's status and body.
func assumeGKEReader(t *testing.T, c *Cloud, gsa, audience string) (int, string) {
	t.Helper()
	tok, err := c.Google.MintIDToken(context.Background(), gsa, audience, true)
	require.NoError(t, err)
	form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleSessionName": {"gke-pod"},
		"RoleArn": {"arn:aws:iam::123456789012:role/gke-reader"}, "WebIdentityToken": {tok}}
	resp, err := c.Client().Post("https://sts.us-west-2.amazonaws.com/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}
