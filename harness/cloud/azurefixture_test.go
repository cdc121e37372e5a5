package cloud

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
)

// aksIssuer and azureTenant are the lab's (harness.DefaultCluster("aks")
// and harness.AzureTenantID; harness's config test checks the fixture).
const (
	azureTenant = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	aksIssuer   = "https://westus2.oic.prod-aks.azure.com/" + azureTenant + "/3EBC6E7935B29D78BA982BAE8FB51607/"
)

// TestLabAzureDenialsRestOnTheFixture is the test of the azure suite's deny
// rows: with fixtures/azure as shipped, each is refused with the code the
// suite expects; with the condition it rests on widened (federated
// credentials for the other subjects, the audience typo and the issuer
// fixed, team-a-reader's role assignment at the account), each is allowed.
func TestLabAzureDenialsRestOnTheFixture(t *testing.T) {
	raw, err := os.ReadFile("../../fixtures/azure/lab.yaml")
	require.NoError(t, err)
	shipped := string(raw)
	widened := shipped
	for _, flip := range [][2]string{
		{"            subject: system:serviceaccount:idlab-aks:app-a\n",
			"            subject: system:serviceaccount:idlab-aks:app-a\n" +
				"          - {issuer: \"" + aksIssuer + "\", subject: \"system:serviceaccount:idlab-aks:app-c\"}\n" +
				"          - {issuer: \"" + aksIssuer + "\", subject: \"system:serviceaccount:idlab-aks-other:app-a\"}\n"},
		{"audiences: [api://AzureADTokenExchange/]", "audiences: [api://AzureADTokenExchange]"},
		{"issuer: " + eksIssuer, "issuer: " + aksIssuer},
		{"role: Storage Blob Data Reader, container: team-a-data}", "role: Storage Blob Data Reader}"},
	} {
		require.Equal(t, 1, strings.Count(widened, flip[0]), "flip %q must change the fixture once", flip[0])
		widened = strings.Replace(widened, flip[0], flip[1], 1)
	}

	rows := []struct {
		name, ns, sa, app string
		container, blob   string // a blob read after the token, if any
		code              string // with the shipped fixture; "" = allowed
	}{
		{"own container", "idlab-aks", "app-a", "a1111111-1111-4111-8111-111111111111", "team-a-data", "hello.txt", ""},
		{"other app's container", "idlab-aks", "app-a", "a1111111-1111-4111-8111-111111111111", "team-b-data", "secret.txt", "AuthorizationPermissionMismatch"},
		{"subject mismatch", "idlab-aks", "app-c", "a1111111-1111-4111-8111-111111111111", "", "", "AADSTS700213"},
		{"same SA other namespace", "idlab-aks-other", "app-a", "a1111111-1111-4111-8111-111111111111", "", "", "AADSTS700213"},
		{"audience typo", "idlab-aks", "app-aud", "d4444444-4444-4444-8444-444444444444", "", "", "AADSTS700212"},
		{"issuer mismatch", "idlab-aks", "app-iss", "e5555555-5555-4555-8555-555555555555", "", "", "AADSTS700211"},
	}
	for _, fx := range variants(shipped, widened) {
		t.Run(fx.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte(fx.fixture), 0o644))
			c, minter := startCloudFor(t, aksIssuer, "", func(cfg *Config) { cfg.AzureFixtures = dir })
			for _, r := range rows {
				code := azureRow(t, c, minter, r.ns, r.sa, r.app, r.container, r.blob)
				want := r.code
				if fx.widened {
					want = ""
				}
				require.Equal(t, want, code, "%s with the %s fixture", r.name, fx.name)
			}
		})
	}
}

// azureRow trades the service account's token for a storage token as
// azidentity would, then reads container/blob with it; it returns the
// AADSTS or storage error code, or "" when all was allowed.
func azureRow(t *testing.T, c *Cloud, minter *oidc.Issuer, ns, sa, app, container, blob string) string {
	t.Helper()
	assertion, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: ns, ServiceAccount: sa, Audiences: []string{"api://AzureADTokenExchange"}})
	require.NoError(t, err)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app}, "scope": {"https://storage.azure.com/.default"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	resp, err := c.Client().PostForm("https://login.microsoftonline.com/"+azureTenant+"/oauth2/v2.0/token", form)
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
		ErrorCodes  []int  `json:"error_codes"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		require.NotEmpty(t, tok.ErrorCodes)
		return fmt.Sprintf("AADSTS%d", tok.ErrorCodes[0])
	}
	if container == "" {
		return ""
	}
	req, err := http.NewRequest(http.MethodGet, "https://idlab.blob.core.windows.net/"+container+"/"+blob, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("x-ms-version", "2025-01-05")
	resp, err = c.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header.Get("x-ms-error-code")
}
