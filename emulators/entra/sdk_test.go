package entra_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/emulators/oidc"
)

// getToken runs the unmodified azidentity WorkloadIdentityCredential
// against the emulator. Nothing beyond the cloud configuration and the
// transport is needed: the authority host 127.0.0.1 is not one MSAL trusts,
// so MSAL runs instance discovery at https://login.microsoftonline.com
// (which the transport dials to the emulator) and the emulator accepts its
// own loopback host; DisableInstanceDiscovery is not set.
func getToken(t *testing.T, l *lab, authority, tenant, client, tokenFile, scope string) (azcore.AccessToken, error) {
	t.Helper()
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: authority},
			Transport: l.entra.Client(),
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
		ClientID:      client,
		TenantID:      tenant,
		TokenFilePath: tokenFile,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
}

func TestWorkloadIdentityCredentialGetsStorageToken(t *testing.T) {
	l := newLab(t)
	for _, authority := range []string{l.entra.URL() + "/", "https://login.microsoftonline.com/"} {
		t.Run(authority, func(t *testing.T) {
			file := writeToken(t, l.ksaToken(t, oidc.TokenRequest{}))
			tok, err := getToken(t, l, authority, tenantID, clientID, file, "https://storage.azure.com/.default")
			require.NoError(t, err)
			require.WithinDuration(t, time.Now().Add(time.Hour), tok.ExpiresOn, 2*time.Minute)

			c, err := l.entra.Handler().VerifyAccessToken(tok.Token)
			require.NoError(t, err)
			require.Equal(t, "1.0", c.Version)
			require.Equal(t, "https://sts.windows.net/"+tenantID+"/", c.Issuer)
			require.Equal(t, "https://storage.azure.com", c.Audience)
			require.Equal(t, tenantID, c.TenantID)
			require.Equal(t, clientID, c.AppID)
			require.Equal(t, entra.App{Tenant: tenantID, ClientID: clientID}.ObjectID(), c.ObjectID)
			require.Equal(t, c.ObjectID, c.Subject)
			require.Equal(t, []string{"Storage.Blob.Read"}, c.Roles)
			require.True(t, c.HasRole("Storage.Blob.Read"))
			require.Equal(t, "2", c.Raw["appidacr"])
		})
	}
	ds := l.entra.Handler().Decisions()
	require.Len(t, ds, 2)
	for _, d := range ds {
		require.True(t, d.Allowed())
		require.Equal(t, "azure", d.Cloud)
		require.Equal(t, entra.ActionToken, d.Action)
		require.Equal(t, subject, d.Principal)
		require.Equal(t, aksIssuer, d.Detail["issuer"])
		require.Equal(t, "aks-blob-reader", d.Detail["credential"])
		require.Equal(t, "https://storage.azure.com", d.Resource)
	}
}

func TestWorkloadIdentityCredentialV2TokenForCustomAPI(t *testing.T) {
	l := newLab(t)
	file := writeToken(t, l.ksaToken(t, oidc.TokenRequest{}))
	tok, err := getToken(t, l, l.entra.URL()+"/", tenantID, clientID, file, "api://"+apiAppID+"/.default")
	require.NoError(t, err)
	c, err := l.entra.Handler().VerifyAccessToken(tok.Token)
	require.NoError(t, err)
	require.Equal(t, "2.0", c.Version)
	require.Equal(t, "https://login.microsoftonline.com/"+tenantID+"/v2.0", c.Issuer)
	require.Equal(t, apiAppID, c.Audience)
	require.Equal(t, clientID, c.AppID)
	require.Empty(t, c.Roles)
}

func TestWorkloadIdentityCredentialDenials(t *testing.T) {
	l := newLab(t)
	past := time.Now().Add(-3 * time.Hour)
	tamper := func(tok string) string {
		// Flip one bit in the middle of the signature.
		i := strings.LastIndexByte(tok, '.') + 10
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	foreignKid := func(t *testing.T) string {
		std := map[string]any{"iss": aksIssuer, "sub": subject, "aud": []string{entra.DefaultFederatedAudience},
			"iat": time.Now().Unix(), "nbf": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
		tok, err := l.issuer.Sign(std, oidc.WithKid("rotated-away"))
		require.NoError(t, err)
		return tok
	}
	for _, tc := range []struct {
		name     string
		token    func(t *testing.T) string
		tenant   string
		client   string
		code     string
		oauthErr string
		decided  bool // a Decision is recorded (token endpoint reached)
	}{
		{name: "other service account", token: func(t *testing.T) string {
			return l.ksaToken(t, oidc.TokenRequest{Namespace: "apps", ServiceAccount: "intruder"})
		}, code: "AADSTS700213", oauthErr: "invalid_client", decided: true},
		{name: "other namespace", token: func(t *testing.T) string {
			return l.ksaToken(t, oidc.TokenRequest{Namespace: "other", ServiceAccount: "blob-reader"})
		}, code: "AADSTS700213", oauthErr: "invalid_client", decided: true},
		{name: "wrong audience", token: func(t *testing.T) string {
			return l.ksaToken(t, oidc.TokenRequest{Audiences: []string{"sts.amazonaws.com"}})
		}, code: "AADSTS700212", oauthErr: "invalid_client", decided: true},
		{name: "unknown issuer", token: func(t *testing.T) string {
			tok, err := l.stranger.MintServiceAccountToken(oidc.TokenRequest{Namespace: "apps", ServiceAccount: "blob-reader", Audiences: []string{entra.DefaultFederatedAudience}})
			require.NoError(t, err)
			return tok
		}, code: "AADSTS700211", oauthErr: "invalid_client", decided: true},
		{name: "expired token", token: func(t *testing.T) string {
			return l.ksaToken(t, oidc.TokenRequest{IssuedAt: past, ExpirationSeconds: 3600})
		}, code: "AADSTS700024", oauthErr: "invalid_client", decided: true},
		{name: "bad signature", token: func(t *testing.T) string {
			return tamper(l.ksaToken(t, oidc.TokenRequest{}))
		}, code: "AADSTS50013", oauthErr: "invalid_client", decided: true},
		{name: "key not published", token: foreignKid, code: "AADSTS7000272", oauthErr: "invalid_client", decided: true},
		{name: "unknown client", client: "99999999-9999-4999-8999-999999999999", token: func(t *testing.T) string {
			return l.ksaToken(t, oidc.TokenRequest{})
		}, code: "AADSTS700016", oauthErr: "unauthorized_client", decided: true},
		{name: "unknown tenant", tenant: "00000000-1111-4222-8333-444444444444", token: func(t *testing.T) string {
			return l.ksaToken(t, oidc.TokenRequest{})
		}, code: "AADSTS90002", oauthErr: "invalid_tenant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.entra.Handler().ResetDecisions()
			tenant, client := tenantID, clientID
			if tc.tenant != "" {
				tenant = tc.tenant
			}
			if tc.client != "" {
				client = tc.client
			}
			_, err := getToken(t, l, l.entra.URL()+"/", tenant, client, writeToken(t, tc.token(t)), "https://storage.azure.com/.default")
			require.Error(t, err)
			var afe *azidentity.AuthenticationFailedError
			require.ErrorAs(t, err, &afe)
			require.Contains(t, err.Error(), tc.code+":")
			require.Contains(t, err.Error(), `"error": "`+tc.oauthErr+`"`)
			ds := l.entra.Handler().Decisions()
			if !tc.decided {
				require.Empty(t, ds)
				return
			}
			require.Len(t, ds, 1)
			require.False(t, ds[0].Allowed())
			require.Equal(t, tc.code, ds[0].Code)
		})
	}
}
