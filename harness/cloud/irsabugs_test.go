package cloud

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
)

// TestLabIssuerSlashDenialRestsOnTheSlash is the test of the irsabugs
// suite's trailing-slash row: account 444455556666 registers the eks issuer
// with a trailing slash, and the cluster's tokens (iss without it) are
// refused with "No OpenIDConnect provider found"; the same fixture with the
// slash removed lets the same token in.
func TestLabIssuerSlashDenialRestsOnTheSlash(t *testing.T) {
	raw, err := os.ReadFile("../../fixtures/aws/lab.yaml")
	require.NoError(t, err)
	shipped := string(raw)
	const slashed = "id/72384992066C61667C0CF6C50CD43852/"
	require.Equal(t, 3, strings.Count(shipped, slashed), "provider URL, trust principal and condition key")
	widened := strings.ReplaceAll(shipped, slashed, "id/72384992066C61667C0CF6C50CD43852")

	for _, fx := range variants(shipped, widened) {
		t.Run(fx.name, func(t *testing.T) {
			c, minter := startCloudFor(t, eksIssuer, fx.fixture, nil)
			tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: "idlab-irsabugs", ServiceAccount: "app", Audiences: []string{"sts.amazonaws.com"}})
			require.NoError(t, err)
			form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleSessionName": {"fixture-check"},
				"RoleArn": {"arn:aws:iam::444455556666:role/irsabugs-slash"}, "WebIdentityToken": {tok}}
			resp, err := c.Client().Post("https://sts.us-west-2.amazonaws.com/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if fx.widened {
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				return
			}
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
			require.Contains(t, string(body), "<Code>InvalidIdentityToken</Code>")
			require.Contains(t, string(body), "<Message>No OpenIDConnect provider found in your account for "+eksIssuer+"</Message>")
		})
	}
}
