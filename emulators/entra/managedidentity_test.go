package entra_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/decisionlog"
)

const miFixture = `tenants:
- id: 72f988bf-86f1-41af-91ab-2d7cd011db47
  managedIdentities:
  - name: pod-reader
    clientId: c3333333-3333-4333-8333-333333333333
  - name: other
    clientId: C4444444-4444-4444-8444-444444444444
    subscription: 11111111-2222-3333-4444-555555555555
    resourceGroup: MC_rg_aks_westus2
`

// newMIHandler is a handler with the two managed identities of miFixture
// on a fixed clock.
func newMIHandler(t *testing.T, now time.Time) (*entra.Handler, *decisionlog.Log) {
	t.Helper()
	log := &decisionlog.Log{}
	h, err := entra.New(entra.Options{Now: func() time.Time { return now }, Decisions: log})
	require.NoError(t, err)
	require.NoError(t, h.LoadFixtureYAML("mi.yaml", []byte(miFixture)))
	return h, log
}

func TestManagedIdentityFixture(t *testing.T) {
	h, _ := newMIHandler(t, time.Now())
	mis := h.ManagedIdentities()
	require.Len(t, mis, 2)
	byName := map[string]entra.App{}
	for _, m := range mis {
		byName[m.DisplayName] = m
	}
	r := byName["pod-reader"]
	require.Equal(t, "/subscriptions/"+entra.DefaultSubscription+"/resourcegroups/"+entra.DefaultResourceGroup+
		"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pod-reader", r.ResourceID())
	require.Equal(t, r.ObjectID(), r.PrincipalID())
	o := byName["other"]
	require.Equal(t, "/subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups/MC_rg_aks_westus2/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other", o.ResourceID())
	require.Empty(t, entra.App{Tenant: tenantID, ClientID: clientID}.ResourceID(), "an app registration has no resource ID")

	for _, tc := range []struct {
		name string
		sel  entra.IdentitySelector
		want string
	}{
		{"client id", entra.IdentitySelector{ClientID: "c3333333-3333-4333-8333-333333333333"}, "pod-reader"},
		{"client id in other case", entra.IdentitySelector{ClientID: "c4444444-4444-4444-8444-444444444444"}, "other"},
		{"object id", entra.IdentitySelector{ObjectID: strings.ToUpper(r.PrincipalID())}, "pod-reader"},
		{"resource id, ARM's resourceGroups", entra.IdentitySelector{ResourceID: strings.Replace(o.ResourceID(), "resourcegroups", "resourceGroups", 1)}, "other"},
		{"unknown client id", entra.IdentitySelector{ClientID: "d0000000-0000-4000-8000-000000000000"}, ""},
		{"empty selector", entra.IdentitySelector{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := h.FindManagedIdentity(tc.sel)
			require.Equal(t, tc.want != "", ok)
			require.Equal(t, tc.want, got.DisplayName)
		})
	}
}

func TestManagedIdentityFixtureErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"no name", "tenants:\n- id: t1\n  managedIdentities:\n  - clientId: c1\n", "mi.yaml:4"},
		{"slash in name", "tenants:\n- id: t1\n  managedIdentities:\n  - {name: a/b, clientId: c1}\n", "mi.yaml:4"},
		{"unknown field", "tenants:\n- id: t1\n  managedIdentities:\n  - {name: a, clientId: c1, principalId: x}\n", "principalId"},
		{"same client id as an app", "tenants:\n- id: t1\n  apps:\n  - clientId: c1\n  managedIdentities:\n  - {name: a, clientId: c1}\n", "also defined at line 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := entra.New(entra.Options{})
			require.NoError(t, err)
			err = h.LoadFixtureYAML("mi.yaml", []byte(tc.doc))
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, h.Apps(), "nothing applied")
		})
	}
}

// TestManagedIdentityTokenClaims: a managed identity's storage token is a
// v1 token whose oid and sub are the principal ID, appid the client ID,
// idtyp app and xms_mirid the resource ID, valid 24 hours, and it verifies
// as any other token of the tenant.
func TestManagedIdentityTokenClaims(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	h, log := newMIHandler(t, now)
	mi, ok := h.FindManagedIdentity(entra.IdentitySelector{ClientID: "c3333333-3333-4333-8333-333333333333"})
	require.True(t, ok)
	tok, err := h.IssueManagedIdentityToken(mi, "https://storage.azure.com/", "vm aks-node")
	require.NoError(t, err)
	require.Equal(t, "https://storage.azure.com/", tok.Resource)
	require.Equal(t, now.Add(24*time.Hour), tok.ExpiresOn)
	require.Equal(t, now, tok.NotBefore)

	parsed, err := jwt.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, parsed.UnsafeClaimsWithoutVerification(&raw))
	for k, want := range map[string]any{
		"aud": "https://storage.azure.com/", "iss": "https://sts.windows.net/" + tenantID + "/",
		"appid": mi.ClientID, "appidacr": "2", "idtyp": "app", "oid": mi.PrincipalID(), "sub": mi.PrincipalID(),
		"tid": tenantID, "ver": "1.0", "xms_mirid": mi.ResourceID(), "idp": "https://sts.windows.net/" + tenantID + "/",
		"exp": float64(now.Add(24 * time.Hour).Unix()), "nbf": float64(now.Unix()), "iat": float64(now.Unix()),
	} {
		require.Equal(t, want, raw[k], k)
	}

	c, err := h.VerifyAccessToken(tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, mi.PrincipalID(), c.ObjectID)
	require.Equal(t, mi.ClientID, c.AppID)

	entries := log.Entries(decisionlog.Filter{})
	require.Len(t, entries, 1)
	require.Equal(t, decisionlog.Allow, entries[0].Effect)
	require.Equal(t, mi.ResourceID(), entries[0].Principal)
	require.Equal(t, entra.ActionToken, entries[0].Action)
}

func TestManagedIdentityTokenRefusals(t *testing.T) {
	h, log := newMIHandler(t, time.Now())
	mi, _ := h.FindManagedIdentity(entra.IdentitySelector{ClientID: "c3333333-3333-4333-8333-333333333333"})
	_, err := h.IssueManagedIdentityToken(mi, "https://unknown.example.com", "vm")
	var te *entra.TokenError
	require.ErrorAs(t, err, &te)
	require.Equal(t, 400, te.Status)
	require.Equal(t, "invalid_resource", te.OAuthError)
	require.Equal(t, 500011, te.Code)
	require.Contains(t, te.Description, "The resource principal named https://unknown.example.com was not found in the tenant")
	e := log.Entries(decisionlog.Filter{})
	require.Len(t, e, 1)
	require.Equal(t, decisionlog.Deny, e[0].Effect)
	require.Equal(t, "AADSTS500011", e[0].Code)

	_, err = h.IssueManagedIdentityToken(entra.App{Tenant: tenantID, ClientID: clientID}, "https://storage.azure.com", "vm")
	require.ErrorIs(t, err, entra.ErrInvalid, "an app registration is no managed identity")
}

func TestManagedIdentitySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	h, err := entra.New(entra.Options{DataDir: dir})
	require.NoError(t, err)
	require.NoError(t, h.LoadFixtureYAML("mi.yaml", []byte(miFixture)))
	_, err = os.Stat(filepath.Join(dir, "entra-state.json"))
	require.NoError(t, err)
	h2, err := entra.New(entra.Options{DataDir: dir})
	require.NoError(t, err)
	require.Equal(t, h.ManagedIdentities(), h2.ManagedIdentities())
}
