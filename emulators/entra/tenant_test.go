package entra_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
)

func TestTenant(t *testing.T) {
	h, err := entra.New(entra.Options{})
	require.NoError(t, err)
	require.NoError(t, h.AddTenant(entra.Tenant{ID: "t1", DisplayName: "idlab", Domains: []string{"idlab.onmicrosoft.com"}}))
	got, ok := h.Tenant("t1")
	require.True(t, ok)
	require.Equal(t, entra.Tenant{ID: "t1", DisplayName: "idlab", Domains: []string{"idlab.onmicrosoft.com"}}, got)
	got.Domains[0] = "changed"
	again, _ := h.Tenant("t1")
	require.Equal(t, "idlab.onmicrosoft.com", again.Domains[0], "a copy")
	for _, id := range []string{"idlab.onmicrosoft.com", "T1", "t2"} {
		_, ok := h.Tenant(id)
		require.False(t, ok, "%s: by exact ID only", id)
	}
}
