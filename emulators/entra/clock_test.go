package entra_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
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

// SetAssertionClock moves time for one app's client assertions only: a
// token 4 minutes into Entra's 5 minute leeway past its exp is refused for
// that app once its clock is 2 minutes ahead, and still taken by another
// app federated with the same service account; the access token the app
// gets is issued at the lab clock; a later call replaces the offset, 0 or
// less ends it, and an unknown app changes nothing.
func TestSetAssertionClock(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	l := newLabAt(t, func() time.Time { return now })
	h := l.entra.Handler()
	const twinID = "3a1e9c7b-5d2f-4e6a-8b0c-1f2e3d4c5b6a"
	require.NoError(t, h.AddApp(entra.App{Tenant: tenantID, ClientID: twinID, DisplayName: "blob-reader-twin",
		FederatedCredentials: []entra.FederatedCredential{{Name: "aks-blob-reader", Issuer: aksIssuer, Subject: subject}},
		Roles:                map[string][]string{"https://storage.azure.com": {"Storage.Blob.Read"}}}))
	// exp was 4 minutes ago: inside the leeway by 1 minute.
	stale := l.ksaToken(t, oidc.TokenRequest{ExpirationSeconds: 600, IssuedAt: now.Add(-14 * time.Minute)})
	fresh := l.ksaToken(t, oidc.TokenRequest{ExpirationSeconds: 600, IssuedAt: now})
	ask := func(app, assertion string) (int, map[string]any) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app}, "scope": {"https://storage.azure.com/.default"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
		return do(t, l.entra.Client(), http.MethodPost, "https://login.microsoftonline.com/"+tenantID+"/oauth2/v2.0/token", form)
	}
	for _, tc := range []struct {
		name      string
		before    time.Duration // clientID's offset set first, if any
		app       string
		ahead     time.Duration
		known     bool
		offset    time.Duration // of clientID after the call
		askApp    string
		assertion string
		status    int
	}{
		{"nothing set: stale within the leeway", 0, clientID, 0, true, 0, clientID, stale, http.StatusOK},
		{"unknown app", 0, "00000000-0000-4000-8000-000000000000", time.Hour, false, 0, clientID, stale, http.StatusOK},
		{"app 2 minutes ahead: stale refused", 0, clientID, 2 * time.Minute, true, 2 * time.Minute, clientID, stale, http.StatusUnauthorized},
		{"app ahead: fresh still taken", 0, clientID, 2 * time.Minute, true, 2 * time.Minute, clientID, fresh, http.StatusOK},
		{"other app: stale taken", 0, twinID, 0, true, 2 * time.Minute, twinID, stale, http.StatusOK},
		{"set again: replaced, fresh refused 16 minutes ahead", 0, clientID, 16 * time.Minute, true, 16 * time.Minute, clientID, fresh, http.StatusUnauthorized},
		{"negative ends it", 0, clientID, -time.Minute, true, 0, clientID, stale, http.StatusOK},
		{"set, then zero ends it", 3 * time.Minute, clientID, 0, true, 0, clientID, stale, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before > 0 {
				require.True(t, h.SetAssertionClock(clientID, tc.before))
			}
			require.Equal(t, tc.known, h.SetAssertionClock(tc.app, tc.ahead))
			status, body := ask(tc.askApp, tc.assertion)
			require.Equal(t, tc.status, status, "%v", body)
			if status != http.StatusOK {
				require.Equal(t, []any{float64(700024)}, body["error_codes"])
				require.Contains(t, body["error_description"], "Current time: "+now.Add(tc.offset).Format("2006-01-02T15:04:05"), "the refusal names the app's time")
				return
			}
			c, err := h.VerifyAccessToken(body["access_token"].(string))
			require.NoError(t, err, "the token verifies at the lab clock")
			parsed, err := jwt.ParseSigned(body["access_token"].(string), []jose.SignatureAlgorithm{jose.RS256})
			require.NoError(t, err)
			var raw map[string]any
			require.NoError(t, parsed.UnsafeClaimsWithoutVerification(&raw))
			require.Equal(t, float64(now.Unix()), raw["iat"], "issued at the lab clock")
			require.Equal(t, tc.askApp, c.AppID)
		})
	}
}
