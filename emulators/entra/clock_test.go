package entra_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/clock"
)

// Expiry follows the injected clock: an access token stops verifying after
// an hour (plus leeway) and a projected token presented after its exp is
// refused with AADSTS700024, without sleeping.
func TestExpiryFollowsInjectedClock(t *testing.T) {
	clk := clock.New(nil)
	l := newLabAt(t, clk.Now)
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID},
		"scope":                 {"https://storage.azure.com/.default"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {l.ksaToken(t, oidc.TokenRequest{})},
	}
	tokenURL := "https://login.microsoftonline.com/" + tenantID + "/oauth2/v2.0/token"
	status, body := do(t, l.entra.Client(), http.MethodPost, tokenURL, form)
	require.Equal(t, http.StatusOK, status, "%v", body)
	at := body["access_token"].(string)
	_, err := l.entra.Handler().VerifyAccessToken(at)
	require.NoError(t, err)

	clk.Advance(time.Hour + 6*time.Minute)
	_, err = l.entra.Handler().VerifyAccessToken(at)
	require.ErrorIs(t, err, entra.ErrInvalidToken)
	require.ErrorIs(t, err, entra.ErrTokenExpired)

	status, body = do(t, l.entra.Client(), http.MethodPost, tokenURL, form)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, []any{float64(700024)}, body["error_codes"])
	require.Contains(t, body["error_description"], "Client assertion is not within its valid time range")

	_, err = l.entra.Handler().VerifyAccessToken(at[:len(at)-4] + "AAAA")
	require.ErrorIs(t, err, entra.ErrInvalidToken)
}
