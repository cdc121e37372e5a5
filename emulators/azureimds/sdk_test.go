package azureimds_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
)

// TestManagedIdentityCredential runs azidentity's ManagedIdentityCredential
// (MSAL's IMDS source) unmodified against the emulator: only the transport
// changes, to reach the emulator where the SDK dials 169.254.169.254.
func TestManagedIdentityCredential(t *testing.T) {
	for _, tc := range []struct {
		name     string
		assigned []string
		id       azidentity.ManagedIDKind
		client   string // the token's appid; "" for a refusal
		errText  string
		// resource defaults to storage; MSAL caches managed-identity tokens
		// process-wide per identity and resource, so cases that must reach
		// IMDS after another case got a token ask for another resource.
		resource string
	}{
		{name: "default identity", assigned: []string{"reader"}, client: readerID},
		{name: "client id", assigned: []string{"reader", "team-b"}, id: azidentity.ClientID(teamBID), client: teamBID},
		{name: "resource id", assigned: []string{"reader", "team-b"}, id: azidentity.ResourceID(rid("reader")), client: readerID},
		{name: "object id", assigned: []string{"reader", "team-b"}, id: azidentity.ObjectID(entra.App{Tenant: tenantID, ClientID: teamBID}.ObjectID()), client: teamBID},
		{name: "several assigned, none named", assigned: []string{"reader", "team-b"}, resource: "https://vault.azure.net",
			errText: "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"},
		{name: "named identity not assigned", assigned: []string{"reader"}, id: azidentity.ClientID(strangeID),
			errText: "the requested identity isn't assigned to this resource"},
		{name: "nothing assigned", resource: "https://management.azure.com", errText: `"error_description":"Identity not found"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.assigned...)
			cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
				ID:            tc.id,
				ClientOptions: azcore.ClientOptions{Transport: e.transport(t), Retry: policy.RetryOptions{MaxRetries: -1}},
			})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res := tc.resource
			if res == "" {
				res = "https://storage.azure.com"
			}
			tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{res + "/.default"}})
			if tc.errText != "" {
				require.ErrorContains(t, err, tc.errText)
				return
			}
			require.NoError(t, err)
			require.WithinDuration(t, e.clock.Now().Add(24*time.Hour), tok.ExpiresOn, time.Second)
			c, err := e.entra.VerifyAccessToken(tok.Token)
			require.NoError(t, err)
			require.Equal(t, tc.client, c.AppID)
			require.Equal(t, "https://storage.azure.com", c.Audience, "MSAL asks for the scope without /.default")
		})
	}
}

// TestDefaultAzureCredentialFindsIMDS: DefaultAzureCredential probes IMDS
// without the Metadata header (azidentity managed_identity_client.go), takes
// the 400 as "IMDS is there" and gets the token.
func TestDefaultAzureCredentialFindsIMDS(t *testing.T) {
	e := newEnv(t, "reader")
	for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_SECRET", "IDENTITY_ENDPOINT", "MSI_ENDPOINT", "IMDS_ENDPOINT"} {
		unsetenv(t, k)
	}
	unsetenv(t, "AZURE_TOKEN_CREDENTIALS")
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: e.transport(t), Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// A resource no other test asks for: MSAL's process-wide cache.
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://database.windows.net/.default"}})
	require.NoError(t, err)
	c, err := e.entra.VerifyAccessToken(tok.Token)
	require.NoError(t, err)
	require.Equal(t, readerID, c.AppID)
	d := e.imds.Handler().Decisions()
	require.Len(t, d, 2, "the probe and the token request")
	require.Equal(t, "400 Required metadata header not specified", d[0].Reason)
}

// unsetenv removes k for the test and restores it after.
func unsetenv(t *testing.T, k string) {
	t.Helper()
	old, ok := os.LookupEnv(k)
	require.NoError(t, os.Unsetenv(k))
	t.Cleanup(func() {
		if ok {
			_ = os.Setenv(k, old)
		}
	})
}
