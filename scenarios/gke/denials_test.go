package gke

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/idlabtest"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// The suite's names, shared by its e2e rows and the tests of them here.
const (
	ns      = "idlab-gke"
	otherNS = "idlab-gke-other" // the identity-bugs rows' namespace
	readerA = "team-a-reader@idlab.iam.gserviceaccount.com"
	readerB = "team-b-reader@idlab.iam.gserviceaccount.com"
	// gkeReader is the AWS role GKE pods reach with their Google identity.
	gkeReader = "arn:aws:iam::123456789012:role/gke-reader"
)

// TestGKEWorkloadIdentityThroughTheCloud walks GKE Workload Identity over
// the real Google host names with the shipped fixtures/gcp, the path the
// GKE metadata server takes: a KSA token is exchanged at STS, impersonates
// its bound GSA, and reads that GSA's bucket, not another's.
func TestGKEWorkloadIdentityThroughTheCloud(t *testing.T) {
	g := newGoogle(t, fixturecheck.Read(t, "gcp/lab.yaml"))

	// Discovery of Google's issuer through its real name.
	status, body := g.do("GET", "https://accounts.google.com/.well-known/openid-configuration", "", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `"issuer": "https://accounts.google.com"`)

	fedA := g.federated("app-a")
	at := g.accessToken(fedA, readerA)
	status, body = g.do("GET", "https://storage.googleapis.com/storage/v1/b/team-a-data/o/hello.txt?alt=media", "", "", at)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "hello from team-a-data", body)
	status, body = g.do("GET", "https://storage.googleapis.com/storage/v1/b/team-b-data/o/secret.txt?alt=media", "", "", at)
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, readerA+" does not have storage.objects.get access")

	// app-a's KSA is not bound on team-b-reader.
	status, body = g.impersonate(fedA, readerB)
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, "PERMISSION_DENIED")

	// No token at all.
	status, _ = g.do("GET", "https://storage.googleapis.com/storage/v1/b/team-a-data/o/hello.txt?alt=media", "", "", "")
	require.Equal(t, http.StatusUnauthorized, status)
}

// TestLabGoogleDenialsRestOnTheirBindings is the test of the suite's
// Google deny rows (no //go:build e2e: make test runs it): with
// fixtures/gcp as shipped, app-a's GSA cannot read team-b-data and the
// unbound KSA cannot impersonate team-a-reader; add the two bindings and
// both succeed.
func TestLabGoogleDenialsRestOnTheirBindings(t *testing.T) {
	shipped := fixturecheck.Read(t, "gcp/lab.yaml")
	widened := fixturecheck.Replace(t, shipped, `members: ["serviceAccount:`+readerB+`"]`,
		`members: ["serviceAccount:`+readerB+`", "serviceAccount:`+readerA+`"]`)
	widened = fixturecheck.Replace(t, widened, `members: ["serviceAccount:idlab.svc.id.goog[idlab-gke/app-a]",`,
		`members: ["serviceAccount:idlab.svc.id.goog[idlab-gke/app-a]", "serviceAccount:idlab.svc.id.goog[idlab-gke/intruder]",`)
	for _, fx := range fixturecheck.Variants(t, shipped, widened) {
		t.Run(fx.Name, func(t *testing.T) {
			g := newGoogle(t, fx.Fixture)
			at := g.accessToken(g.federated("app-a"), readerA)
			status, body := g.do("GET", "https://storage.googleapis.com/storage/v1/b/team-b-data/o/secret.txt?alt=media", "", "", at)
			status2, body2 := g.impersonate(g.federated("intruder"), readerA)
			want := http.StatusForbidden
			if fx.Widened {
				want = http.StatusOK
			}
			require.Equal(t, want, status, body)
			require.Equal(t, want, status2, body2)
		})
	}
}

// TestLabGoogleToAWSDenialsRestOnTheTrust is the test of the GKE-to-AWS
// rows: gke-reader trusts only team-a-reader's Google unique ID (:sub)
// and the audience sts.amazonaws.com (:oaud); team-b-reader's ID token,
// and team-a-reader's for another audience, are refused as shipped and
// accepted once the condition each rests on is gone.
func TestLabGoogleToAWSDenialsRestOnTheTrust(t *testing.T) {
	shipped := fixturecheck.Read(t, "aws/lab.yaml")
	for _, tc := range []struct {
		name, condition, widened string
		gsa, audience            string // the refused row
	}{
		{"subject", "StringEquals:\n                  accounts.google.com:sub: \"120787639386929670157\"",
			"StringLike:\n                  accounts.google.com:sub: \"*\"", readerB, "sts.amazonaws.com"},
		{"audience", "\n                  accounts.google.com:oaud: sts.amazonaws.com", "", readerA, "sts.amazonaws.com.example"},
	} {
		widened := fixturecheck.Replace(t, shipped, tc.condition, tc.widened)
		for _, fx := range fixturecheck.Variants(t, shipped, widened) {
			t.Run(tc.name+"/"+fx.Name, func(t *testing.T) {
				c := idlabtest.NewCloud(t, idlabtest.CloudOptions{AWSFixtures: fixturecheck.Write(t, fx.Fixture),
					GCPFixtures: fixturecheck.Path(t, "gcp")})
				status, body := assumeGKEReader(t, c, readerA, "sts.amazonaws.com")
				require.Equal(t, http.StatusOK, status, "the allowed row: %s", body)
				status, body = assumeGKEReader(t, c, tc.gsa, tc.audience)
				if fx.Widened {
					require.Equal(t, http.StatusOK, status, body)
					return
				}
				require.Equal(t, http.StatusForbidden, status, body)
				require.Equal(t, "AccessDenied", fixturecheck.Code(body))
			})
		}
	}
}

// assumeGKEReader trades a Google ID token of gsa for audience at STS for
// gke-reader, as gtoken's pods do, and returns STS's status and body.
func assumeGKEReader(t *testing.T, c *idlabtest.Cloud, gsa, audience string) (int, string) {
	t.Helper()
	tok, err := c.Google.MintIDToken(context.Background(), gsa, audience, true)
	require.NoError(t, err)
	return fixturecheck.WebIdentity(t, c, gkeReader, tok)
}

// google calls a cloud's Google endpoints by their real names.
type google struct {
	t *testing.T
	c *idlabtest.Cloud
}

// newGoogle starts a cloud with the Google fixture text, hosting the gke
// cluster's issuer.
func newGoogle(t *testing.T, fixture string) google {
	c := idlabtest.NewCloud(t, idlabtest.CloudOptions{GCPFixtures: fixturecheck.Write(t, fixture), Issuers: []string{fixturecheck.Issuer("gke")}})
	return google{t: t, c: c}
}

func (g google) do(method, u, ctype, body, bearer string) (int, string) {
	g.t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(g.t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := g.c.Client().Do(req)
	require.NoError(g.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(g.t, err)
	return resp.StatusCode, string(b)
}

// federated exchanges a token of the KSA ns/ksa at Google STS.
func (g google) federated(ksa string) string {
	g.t.Helper()
	return g.federatedIn(ns, ksa)
}

// federatedIn exchanges a token of the KSA namespace/ksa at Google STS.
func (g google) federatedIn(namespace, ksa string) string {
	g.t.Helper()
	tok, err := g.c.Issuer(fixturecheck.Issuer("gke")).MintServiceAccountToken(oidc.TokenRequest{Namespace: namespace, ServiceAccount: ksa, Audiences: []string{"idlab.svc.id.goog"}})
	require.NoError(g.t, err)
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "audience": {"identitynamespace:idlab.svc.id.goog:" + fixturecheck.Issuer("gke")},
		"scope": {"https://www.googleapis.com/auth/cloud-platform"}, "requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		"subject_token": {tok}, "subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"}}
	status, body := g.do("POST", "https://sts.googleapis.com/v1/token", "application/x-www-form-urlencoded", form.Encode(), "")
	require.Equal(g.t, http.StatusOK, status, body)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(g.t, json.Unmarshal([]byte(body), &out))
	return out.AccessToken
}

func (g google) impersonate(fed, gsa string) (int, string) {
	return g.do("POST", "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"+gsa+":generateAccessToken",
		"application/json", `{"scope":["https://www.googleapis.com/auth/cloud-platform"]}`, fed)
}

// accessToken impersonates gsa with a federated token; it must succeed.
func (g google) accessToken(fed, gsa string) string {
	g.t.Helper()
	status, body := g.impersonate(fed, gsa)
	require.Equal(g.t, http.StatusOK, status, body)
	var at struct{ AccessToken string }
	require.NoError(g.t, json.Unmarshal([]byte(body), &at))
	return at.AccessToken
}

// TestLabGoogleSameKSANameRestsOnTheNamespace is the test of the
// same-KSA-other-namespace rows: the workloadIdentityUser member names the
// namespace, so idlab-gke-other/app-a, the bound idlab-gke/app-a's name in
// another namespace, may not act as team-a-reader (403), while
// idlab-gke-other/app-b, which the fixture binds to team-b-reader, may;
// with idlab-gke-other/app-a added to team-a-reader's members it may too.
func TestLabGoogleSameKSANameRestsOnTheNamespace(t *testing.T) {
	shipped := fixturecheck.Read(t, "gcp/lab.yaml")
	widened := fixturecheck.Replace(t, shipped, `members: ["serviceAccount:idlab.svc.id.goog[idlab-gke/app-a]",`,
		`members: ["serviceAccount:idlab.svc.id.goog[idlab-gke/app-a]", "serviceAccount:idlab.svc.id.goog[`+otherNS+`/app-a]",`)
	for _, fx := range fixturecheck.Variants(t, shipped, widened) {
		t.Run(fx.Name, func(t *testing.T) {
			g := newGoogle(t, fx.Fixture)
			g.accessToken(g.federated("app-a"), readerA) // the bound KSA of the same name
			g.accessToken(g.federatedIn(otherNS, "app-b"), readerB)
			status, body := g.impersonate(g.federatedIn(otherNS, "app-a"), readerA)
			if fx.Widened {
				require.Equal(t, http.StatusOK, status, body)
				return
			}
			require.Equal(t, http.StatusForbidden, status, body)
			require.Contains(t, body, "PERMISSION_DENIED")
		})
	}
}
