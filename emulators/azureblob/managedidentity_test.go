package azureblob_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
)

// TestManagedIdentityTokens: a user-assigned managed identity's token
// (what IMDS hands out) is judged like any other principal's: its role
// assignment, made with its client ID as `az role assignment create
// --assignee` takes it, grants its container, and nothing else.
func TestManagedIdentityTokens(t *testing.T) {
	l := newLab(t)
	h := l.entra.Handler()
	// readerApp holds Reader on team-a-data; a managed identity with that
	// client ID is the same service principal.
	for _, mi := range []entra.App{
		{Tenant: tenantID, ClientID: readerApp, DisplayName: "pod-reader", ManagedIdentity: &entra.ManagedIdentity{Name: "pod-reader"}},
		{Tenant: tenantID, ClientID: nobodyApp, DisplayName: "pod-nobody", ManagedIdentity: &entra.ManagedIdentity{Name: "pod-nobody"}},
	} {
		require.NoError(t, h.AddApp(mi))
	}
	token := func(client string) azcore.TokenCredential {
		mi, ok := h.FindManagedIdentity(entra.IdentitySelector{ClientID: client})
		require.True(t, ok)
		tok, err := h.IssueManagedIdentityToken(mi, "https://storage.azure.com/", "test")
		require.NoError(t, err)
		return staticToken(tok.AccessToken)
	}
	for _, tc := range []struct {
		name, client, container, blob, want string
		code                                bloberror.Code
	}{
		{"reader reads its container", readerApp, "team-a-data", "hello.txt", "hello from team-a-data", ""},
		{"reader denied the other container", readerApp, "team-b-data", "secret.txt", "", bloberror.AuthorizationPermissionMismatch},
		{"identity without assignment denied", nobodyApp, "team-a-data", "hello.txt", "", bloberror.AuthorizationPermissionMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := get(tc.container, tc.blob)(ctx, l.client(t, token(tc.client), ""))
			if tc.code == "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				return
			}
			require.True(t, bloberror.HasCode(err, tc.code), "%v", errors.Unwrap(err))
			d := l.blob.Handler().Decisions()
			require.NotEmpty(t, d)
			last := d[len(d)-1]
			require.Equal(t, entra.App{Tenant: tenantID, ClientID: tc.client}.ObjectID(), last.Principal)
		})
	}
}
