package irsabugs

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// The suite's names, shared by its e2e rows and the test of them here.
const (
	ns        = "idlab-irsabugs"
	slashRole = "arn:aws:iam::444455556666:role/irsabugs-slash"
	eksIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/72384992066C61667C0CF6C50CD43852"
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
