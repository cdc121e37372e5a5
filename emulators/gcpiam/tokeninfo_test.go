package gcpiam_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/gcpiam"
)

func TestTokenInfo(t *testing.T) {
	l := newLab(t)
	tok, exp, err := l.h.MintAccessToken(context.Background(), reader, []string{gcpiam.ScopeCloudPlatform, "https://www.googleapis.com/auth/devstorage.read_only"}, 30*time.Minute)
	require.NoError(t, err)
	uid := gcpiam.UniqueIDFor(reader)
	for _, u := range []string{"https://oauth2.googleapis.com/tokeninfo", "https://www.googleapis.com/oauth2/v3/tokeninfo"} {
		status, info := l.get(t, u+"?access_token="+url.QueryEscape(tok))
		require.Equal(t, 200, status)
		require.Equal(t, map[string]any{
			"azp": uid, "aud": uid, "sub": uid,
			"scope":          gcpiam.ScopeCloudPlatform + " https://www.googleapis.com/auth/devstorage.read_only",
			"exp":            strconv.FormatInt(exp.Unix(), 10),
			"expires_in":     info["expires_in"],
			"email":          reader,
			"email_verified": "true",
			"access_type":    "online",
		}, info)
		n, err := strconv.Atoi(info["expires_in"].(string))
		require.NoError(t, err)
		require.InDelta(t, 1800, n, 5)
	}
	for _, bad := range []string{"", "ya29.nope"} {
		status, info := l.get(t, "https://oauth2.googleapis.com/tokeninfo?access_token="+bad)
		require.Equal(t, 400, status)
		require.Equal(t, "invalid_token", info["error"])
	}
	l.clk.Advance(31 * time.Minute)
	status, _ := l.get(t, "https://oauth2.googleapis.com/tokeninfo?access_token="+url.QueryEscape(tok))
	require.Equal(t, 400, status)
}

func TestDiscoveryAndCerts(t *testing.T) {
	l := newLab(t)
	status, doc := l.get(t, "https://accounts.google.com/.well-known/openid-configuration")
	require.Equal(t, 200, status)
	require.Equal(t, "https://accounts.google.com", doc["issuer"])
	require.Equal(t, "https://www.googleapis.com/oauth2/v3/certs", doc["jwks_uri"])
	require.Equal(t, []any{"RS256"}, doc["id_token_signing_alg_values_supported"])
	status, jwks := l.get(t, "https://www.googleapis.com/oauth2/v3/certs")
	require.Equal(t, 200, status)
	key := jwks["keys"].([]any)[0].(map[string]any)
	require.Equal(t, "RSA", key["kty"])
	require.Equal(t, "AQAB", key["e"])
	status, x509s := l.get(t, "https://www.googleapis.com/oauth2/v1/certs")
	require.Equal(t, 200, status)
	require.Contains(t, x509s[key["kid"].(string)], "-----BEGIN CERTIFICATE-----")
	status, _ = l.get(t, "https://accounts.google.com/nope")
	require.Equal(t, 404, status)
}
