package entra_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
)

const fixture = `tenants:
- id: 72f988bf-86f1-41af-91ab-2d7cd011db47
  name: lab
  domains: [lab.onmicrosoft.com]
  apps:
  - clientId: 0f7c3a4e-1f8b-4c55-9d1e-8a3b2c1d0e9f
    name: blob-reader
    federatedCredentials:
    - issuer: https://oidc.prod-aks.azure.com/x/
      subject: system:serviceaccount:apps:blob-reader
    roles:
      https://storage.azure.com: [Storage.Blob.Read]
`

func TestLoadFixtures(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "azure.yaml")
	require.NoError(t, os.WriteFile(p, []byte(fixture), 0o600))
	h, err := entra.New(entra.Options{})
	require.NoError(t, err)
	require.NoError(t, h.LoadFixtures(p))
	apps := h.Apps()
	require.Len(t, apps, 1)
	require.Equal(t, "blob-reader", apps[0].DisplayName)
	require.Equal(t, []string{entra.DefaultFederatedAudience}, apps[0].FederatedCredentials[0].Audiences)
	require.Equal(t, []string{"Storage.Blob.Read"}, apps[0].Roles["https://storage.azure.com"])
}

func TestLoadFixturesErrorsHaveLines(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		line      int
		msg       string
	}{
		{"unknown field", "tenants:\n- id: t\n  apps:\n  - clientId: c\n    role: x\n", 5, `unknown field "role"`},
		{"fic without subject", "tenants:\n- id: t\n  apps:\n  - clientId: c\n    federatedCredentials:\n    - issuer: https://i\n", 6, "issuer and subject are required"},
		{"app without client id", "tenants:\n- id: t\n  apps:\n  - name: x\n", 4, "clientId are required"},
		{"reserved tenant", "tenants:\n- id: common\n", 2, "non-reserved"},
		{"duplicate app", "tenants:\n- id: t\n  apps:\n  - clientId: c\n  - clientId: c\n", 5, "also defined at line 4"},
		{"syntax", "tenants:\n- id: [\n", 2, "yaml"},
		{"wrong type", "tenants:\n- id: t\n  domains: {a: b}\n", 3, "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := entra.New(entra.Options{})
			require.NoError(t, err)
			err = h.LoadFixtureYAML("f.yaml", []byte(tc.doc))
			var fe *entra.FixtureError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, "f.yaml", fe.File)
			require.Equal(t, tc.line, fe.Line, err.Error())
			require.Contains(t, err.Error(), tc.msg)
			require.Empty(t, h.Apps())
		})
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	l := newLab(t)
	h1, err := entra.New(entra.Options{DataDir: dir, HTTPClient: l.oidc.Client()})
	require.NoError(t, err)
	require.NoError(t, h1.LoadFixtureYAML("f", []byte(fixture)))
	h2, err := entra.New(entra.Options{DataDir: dir})
	require.NoError(t, err)
	require.Equal(t, h1.Apps(), h2.Apps())
	st, err := os.Stat(filepath.Join(dir, "entra-state.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}
