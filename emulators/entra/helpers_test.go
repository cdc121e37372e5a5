package entra_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
)

const (
	tenantID   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	clientID   = "0f7c3a4e-1f8b-4c55-9d1e-8a3b2c1d0e9f"
	apiAppID   = "5d2f6b8a-3c4e-4f1a-9b7d-6e5c4b3a2f10"
	aksIssuer  = "https://oidc.prod-aks.azure.com/" + tenantID + "/11111111-2222-3333-4444-555555555555/"
	strangerIs = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
	subject    = "system:serviceaccount:apps:blob-reader"
)

// lab is an OIDC issuer server (the cluster) and an Entra server that
// fetches the issuer's keys through it.
type lab struct {
	oidc     *oidc.Server
	issuer   *oidc.Issuer
	stranger *oidc.Issuer
	entra    *entra.Server
}

func newLab(t *testing.T) *lab { t.Helper(); return newLabAt(t, nil) }

// newLabAt is newLab with the Entra server reading now (nil: real time).
func newLabAt(t *testing.T, now func() time.Time) *lab {
	t.Helper()
	ca, err := certs.NewCA("entra-test")
	require.NoError(t, err)
	o, err := oidc.NewServer(oidc.Options{CA: ca})
	require.NoError(t, err)
	t.Cleanup(o.Close)
	iss, err := o.Handler().AddIssuer(aksIssuer)
	require.NoError(t, err)
	_, err = iss.AddKey("RS256")
	require.NoError(t, err)
	str, err := o.Handler().AddIssuer(strangerIs)
	require.NoError(t, err)
	_, err = str.AddKey("RS256")
	require.NoError(t, err)

	e, err := entra.NewServer(entra.Options{CA: ca, HTTPClient: o.Client(), Now: now})
	require.NoError(t, err)
	t.Cleanup(e.Close)
	require.NoError(t, e.Handler().AddApp(entra.App{
		Tenant: tenantID, ClientID: clientID, DisplayName: "blob-reader",
		FederatedCredentials: []entra.FederatedCredential{{Name: "aks-blob-reader", Issuer: aksIssuer, Subject: subject}},
		Roles:                map[string][]string{"https://storage.azure.com": {"Storage.Blob.Read"}},
	}))
	require.NoError(t, e.Handler().AddApp(entra.App{Tenant: tenantID, ClientID: apiAppID, DisplayName: "orders-api"}))
	return &lab{oidc: o, issuer: iss, stranger: str, entra: e}
}

// ksaToken mints a projected service-account token as kubelet would get it
// for the Azure Workload Identity volume.
func (l *lab) ksaToken(t *testing.T, req oidc.TokenRequest) string {
	t.Helper()
	if req.Namespace == "" {
		req.Namespace, req.ServiceAccount = "apps", "blob-reader"
	}
	if req.Audiences == nil {
		req.Audiences = []string{entra.DefaultFederatedAudience}
	}
	req.Pod = &oidc.ObjectRef{Name: "probe", UID: "b8e9a1c2-0000-4000-8000-000000000001"}
	tok, err := l.issuer.MintServiceAccountToken(req)
	require.NoError(t, err)
	return tok
}

func writeToken(t *testing.T, tok string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "azure-identity-token")
	require.NoError(t, os.WriteFile(p, []byte(tok), 0o600))
	return p
}
