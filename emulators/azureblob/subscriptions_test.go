package azureblob

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
)

func TestSubscriptionsOf(t *testing.T) {
	const tenant, other = "t1", "t2"
	h, err := New(Options{Tokens: nopVerifier{}})
	require.NoError(t, err)
	for _, a := range []Account{
		{Name: "acct1", Tenant: tenant},
		{Name: "acct2", Tenant: tenant, Subscription: "sub-b"},
		{Name: "acct3", Tenant: tenant, Subscription: "sub-c"},
		{Name: "acct4", Tenant: other, Subscription: "sub-d"},
	} {
		require.NoError(t, h.AddAccount(a))
	}
	oid := func(tid, app string) string { return entra.App{Tenant: tid, ClientID: app}.ObjectID() }
	assign := func(account, tid, app, scope string) {
		require.NoError(t, h.AssignRole(account, AssignmentFor(tid, app, RoleReader, scope)))
	}
	assign("acct1", tenant, "reader", ContainerScope(DefaultSubscription, DefaultResourceGroup, "acct1", "c1"))
	assign("acct2", tenant, "reader", "/subscriptions/sub-b/resourceGroups/idlab/providers/Microsoft.Storage/storageAccounts/acct2")
	assign("acct2", tenant, "reader", ContainerScope("sub-b", DefaultResourceGroup, "acct2", "c2")) // the same subscription twice
	assign("acct4", other, "reader", ContainerScope("sub-d", DefaultResourceGroup, "acct4", "c4"))
	for _, tc := range []struct {
		name, tenant, principal string
		want                    []string
	}{
		{"a container or an account scope lists its subscription, each once", tenant, oid(tenant, "reader"), []string{DefaultSubscription, "sub-b"}},
		{"no role assignment lists none", tenant, oid(tenant, "nobody"), nil},
		{"another tenant's accounts do not count", tenant, oid(other, "reader"), nil},
		{"the other tenant", other, oid(other, "reader"), []string{"sub-d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, h.SubscriptionsOf(tc.tenant, tc.principal))
		})
	}
}
