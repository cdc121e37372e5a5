package irsabugs

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/idlabtest"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// The suite's names, shared by its e2e rows and the test of them here.
const (
	ns        = "idlab-irsabugs"
	slashRole = "arn:aws:iam::444455556666:role/irsabugs-slash"
	eksIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/72384992066C61667C0CF6C50CD43852"
	// clientIDRole trusts the eks issuer's provider of account
	// 555566667777, registered with the client ID sts.amazon.com.
	clientIDRole = "arn:aws:iam::555566667777:role/irsabugs-clientid"
	appRole      = "arn:aws:iam::" + account + ":role/irsabugs-app"
	// defaultIssuer is kube-apiserver's issuer when --service-account-issuer
	// is left alone (Azure/azure-workload-identity#616).
	defaultIssuer = "https://kubernetes.default.svc.cluster.local"
	account       = "123456789012"
)

// TestLabIssuerSlashDenialRestsOnTheSlash is the test of the
// trailing-slash row (no //go:build e2e: make test runs it): account
// 444455556666 registers the eks issuer with a trailing slash, and the
// cluster's tokens (iss without it) are refused with "No OpenIDConnect
// provider found"; the same fixture with the slash removed lets the same
// token in.
func TestLabIssuerSlashDenialRestsOnTheSlash(t *testing.T) {
	require.Equal(t, fixturecheck.Issuer("eks"), eksIssuer, "the lab's eks issuer")
	shipped := fixturecheck.Read(t, "aws/lab.yaml")
	slashed := strings.TrimPrefix(eksIssuer, "https://oidc.eks.us-west-2.amazonaws.com/") + "/"
	require.Equal(t, 3, strings.Count(shipped, slashed), "provider URL, trust principal and condition key")
	widened := strings.ReplaceAll(shipped, slashed, strings.TrimSuffix(slashed, "/"))
	for _, fx := range fixturecheck.Variants(t, shipped, widened) {
		t.Run(fx.Name, func(t *testing.T) {
			c := fixturecheck.AWSCloud(t, fx.Fixture)
			status, body := fixturecheck.WebIdentity(t, c, slashRole, fixturecheck.Token(t, c, ns, "app", "sts.amazonaws.com"))
			if fx.Widened {
				require.Equal(t, http.StatusOK, status, body)
				return
			}
			require.Equal(t, http.StatusBadRequest, status, body)
			require.Equal(t, "InvalidIdentityToken", fixturecheck.Code(body))
			require.Contains(t, body, "<Message>No OpenIDConnect provider found in your account for "+eksIssuer+"</Message>")
		})
	}
}

// TestLabClientIDTypoDenialRestsOnTheClientID is the test of the client-ID
// typo row: account 555566667777 registers the eks issuer with the client
// ID sts.amazon.com, and the cluster's token, for sts.amazonaws.com, is
// "Incorrect token audience"; with the client ID spelled right the same
// token assumes the role.
func TestLabClientIDTypoDenialRestsOnTheClientID(t *testing.T) {
	shipped := fixturecheck.Read(t, "aws/lab.yaml")
	widened := fixturecheck.Replace(t, shipped, "clientIDs: [sts.amazon.com]", "clientIDs: [sts.amazonaws.com]")
	for _, fx := range fixturecheck.Variants(t, shipped, widened) {
		t.Run(fx.Name, func(t *testing.T) {
			c := fixturecheck.AWSCloud(t, fx.Fixture)
			status, body := fixturecheck.WebIdentity(t, c, clientIDRole, fixturecheck.Token(t, c, ns, "app", "sts.amazonaws.com"))
			if fx.Widened {
				require.Equal(t, http.StatusOK, status, body)
				return
			}
			require.Equal(t, http.StatusBadRequest, status, body)
			require.Equal(t, "InvalidIdentityToken", fixturecheck.Code(body))
			require.Contains(t, body, "<Message>Incorrect token audience</Message>")
		})
	}
}

// TestLabDefaultIssuerDenialRestsOnTheIssuer is the test of the default
// issuer row: the same claims (idlab-irsabugs/app, sts.amazonaws.com)
// signed as a cluster left at https://kubernetes.default.svc.cluster.local
// signs them are refused by irsabugs-app, whose account has no provider for
// that issuer, and signed by the eks issuer they assume it. The refusal
// rests on the token's iss alone.
func TestLabDefaultIssuerDenialRestsOnTheIssuer(t *testing.T) {
	c := idlabtest.NewCloud(t, idlabtest.CloudOptions{AWSFixtures: fixturecheck.Write(t, fixturecheck.Read(t, "aws/lab.yaml")),
		Issuers: []string{eksIssuer, defaultIssuer}})
	for _, tc := range []struct {
		name, issuer string
		status       int
		message      string
	}{
		{"shipped: default issuer", defaultIssuer, http.StatusBadRequest, "No OpenIDConnect provider found in your account for " + defaultIssuer},
		{"flipped: the cluster's issuer", eksIssuer, http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := c.Issuer(tc.issuer).MintServiceAccountToken(oidc.TokenRequest{Namespace: ns, ServiceAccount: "app", Audiences: []string{"sts.amazonaws.com"}})
			require.NoError(t, err)
			status, body := fixturecheck.WebIdentity(t, c, appRole, tok)
			require.Equal(t, tc.status, status, body)
			if tc.message != "" {
				require.Equal(t, "InvalidIdentityToken", fixturecheck.Code(body))
				require.Contains(t, body, "<Message>"+tc.message+"</Message>")
			}
		})
	}
}
