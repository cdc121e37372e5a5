package azure

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/idlabtest"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// The suite's names, shared by its e2e rows and the test of them here.
const (
	ns      = "idlab-aks"
	otherNS = "idlab-aks-other"
	tenant  = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b" // harness.AzureTenantID (fixturecheck.AzureTenant)
	account = "idlab"                                // harness.AzureStorageAccount
	appA    = "a1111111-1111-4111-8111-111111111111" // team-a-reader: federated with idlab-aks/app-a, reads team-a-data
	appB    = "b2222222-2222-4222-8222-222222222222" // team-b-writer: federated with idlab-aks/app-b, writes team-b-data
	appAud  = "d4444444-4444-4444-8444-444444444444" // federated credential with an audience typo
	appIss  = "e5555555-5555-4555-8555-555555555555" // federated credential trusting the eks issuer
)

// TestLabAzureDenialsRestOnTheFixture is the test of the suite's deny rows
// (no //go:build e2e: make test runs it): with fixtures/azure as shipped,
// each is refused with the code the suite expects; with the condition it
// rests on widened (federated credentials for the other subjects, the
// audience typo and the issuer fixed, team-a-reader's role assignment at
// the account), each is allowed.
func TestLabAzureDenialsRestOnTheFixture(t *testing.T) {
	require.Equal(t, fixturecheck.AzureTenant, tenant, "the lab's tenant")
	aks := fixturecheck.Issuer("aks")
	shipped := fixturecheck.Read(t, "azure/lab.yaml")
	widened := shipped
	for _, flip := range [][2]string{
		{"            subject: system:serviceaccount:" + ns + ":app-a\n",
			"            subject: system:serviceaccount:" + ns + ":app-a\n" +
				"          - {issuer: \"" + aks + "\", subject: \"system:serviceaccount:" + ns + ":app-c\"}\n" +
				"          - {issuer: \"" + aks + "\", subject: \"system:serviceaccount:" + otherNS + ":app-a\"}\n"},
		{"audiences: [api://AzureADTokenExchange/]", "audiences: [api://AzureADTokenExchange]"},
		{"issuer: " + fixturecheck.Issuer("eks"), "issuer: " + aks},
		{"role: Storage Blob Data Reader, container: team-a-data}", "role: Storage Blob Data Reader}"},
	} {
		widened = fixturecheck.Replace(t, widened, flip[0], flip[1])
	}
	rows := []struct {
		name, ns, sa, app string
		container, blob   string // a blob read after the token, if any
		code              string // with the shipped fixture; "" = allowed
	}{
		{"own container", ns, "app-a", appA, "team-a-data", "hello.txt", ""},
		{"other app's container", ns, "app-a", appA, "team-b-data", "secret.txt", "AuthorizationPermissionMismatch"},
		{"subject mismatch", ns, "app-c", appA, "", "", "AADSTS700213"},
		{"same SA other namespace", otherNS, "app-a", appA, "", "", "AADSTS700213"},
		{"audience typo", ns, "app-aud", appAud, "", "", "AADSTS700212"},
		{"issuer mismatch", ns, "app-iss", appIss, "", "", "AADSTS700211"},
	}
	for _, fx := range fixturecheck.Variants(t, shipped, widened) {
		t.Run(fx.Name, func(t *testing.T) {
			c := idlabtest.NewCloud(t, idlabtest.CloudOptions{AzureFixtures: fixturecheck.Write(t, fx.Fixture), Issuers: []string{aks}})
			for _, r := range rows {
				want := r.code
				if fx.Widened {
					want = ""
				}
				require.Equal(t, want, azureRow(t, c, c.Issuer(aks), r.ns, r.sa, r.app, r.container, r.blob), "%s with the %s fixture", r.name, fx.Name)
			}
		})
	}
}

// azureRow trades the service account's token for a storage token as
// azidentity would, then reads container/blob with it; it returns the
// AADSTS or storage error code, or "" when all was allowed.
func azureRow(t *testing.T, c *idlabtest.Cloud, minter *oidc.Issuer, ns, sa, app, container, blob string) string {
	t.Helper()
	assertion, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: ns, ServiceAccount: sa, Audiences: []string{"api://AzureADTokenExchange"}})
	require.NoError(t, err)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app}, "scope": {"https://storage.azure.com/.default"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	resp, err := c.Client().PostForm("https://login.microsoftonline.com/"+tenant+"/oauth2/v2.0/token", form)
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
	req, err := http.NewRequest(http.MethodGet, "https://"+account+".blob.core.windows.net/"+container+"/"+blob, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("x-ms-version", "2025-01-05")
	resp, err = c.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header.Get("x-ms-error-code")
}

// The identity-bugs rows' names (TestAzureIdentityBugs), shared with their
// test of the tests here.
const (
	bugsNS      = "idlab-aks-bugs"
	appNoSlash  = "f6666666-6666-4666-8666-666666666666" // issuer-without-slash: the aks issuer without its trailing slash, for bugsNS/slash
	appCase     = "07777777-7777-4777-8777-777777777777" // subject-case: bugsNS/App-A
	appFixed    = "08888888-8888-4888-8888-888888888888" // bugs-fixed: each bug's fixed credential
	aksNoSlash  = "https://westus2.oic.prod-aks.azure.com/" + tenant + "/3EBC6E7935B29D78BA982BAE8FB51607"
	noSlashNear = `federated credential "aks-slash-missing" has issuer "` + aksNoSlash + `", which differs from the assertion's "` + aksNoSlash + `/" only by a trailing slash`
	// defaultIssuer is kube-apiserver's issuer when --service-account-issuer
	// is left alone (Azure/azure-workload-identity#616).
	defaultIssuer = "https://kubernetes.default.svc.cluster.local"
)

// azureBugRow is one identity-bugs row as the test of the tests tries it:
// a token of issuer for bugsNS/sa traded for app's token.
type azureBugRow struct {
	name, issuer, sa, app string
	code                  string // with the shipped fixture; "" = allowed
	fixedByFixture        bool   // the widened fixture lets it in
}

// azureBugRows are TestAzureIdentityBugs's rows, each broken one beside
// its fixed one.
func azureBugRows(aks string) []azureBugRow {
	return []azureBugRow{
		{"issuer-without-trailing-slash", aks, "slash", appNoSlash, "AADSTS700211", true},
		{"issuer-with-trailing-slash", aks, "slash", appFixed, "", true},
		{"subject-case-mismatch", aks, "app-a", appCase, "AADSTS7002138", true},
		{"subject-lower-case", aks, "app-a", appFixed, "", true},
		{"default-cluster-issuer", defaultIssuer, "default-issuer", appFixed, "AADSTS700211", false},
		{"cluster-issuer-set", aks, "default-issuer", appFixed, "", true},
	}
}

// TestLabAzureBugDenialsRestOnTheFixture is the test of the identity-bugs
// rows (no //go:build e2e: make test runs it): as shipped, the credential
// without the aks issuer's trailing slash is AADSTS700211 (the decision
// naming the slash), the subject in other letter case AADSTS7002138, and a
// token of the default issuer AADSTS700211, while each fixed row is let
// in; with the slash added and the subject lower-cased in the fixture, the
// first two are let in too, and the default issuer's token is still
// refused: that refusal rests on the token's iss, not on the fixture.
func TestLabAzureBugDenialsRestOnTheFixture(t *testing.T) {
	aks := fixturecheck.Issuer("aks")
	require.Equal(t, aksNoSlash+"/", aks, "the lab's aks issuer ends with a slash")
	shipped := fixturecheck.Read(t, "azure/lab.yaml")
	widened := fixturecheck.Replace(t, shipped, "issuer: "+aksNoSlash+"\n", "issuer: "+aks+"\n")
	widened = fixturecheck.Replace(t, widened, ":"+bugsNS+":App-A\n", ":"+bugsNS+":app-a\n")
	for _, fx := range fixturecheck.Variants(t, shipped, widened) {
		t.Run(fx.Name, func(t *testing.T) {
			c := idlabtest.NewCloud(t, idlabtest.CloudOptions{AzureFixtures: fixturecheck.Write(t, fx.Fixture), Issuers: []string{aks, defaultIssuer}})
			for _, r := range azureBugRows(aks) {
				want := r.code
				if fx.Widened && r.fixedByFixture {
					want = ""
				}
				got := azureRow(t, c, c.Issuer(r.issuer), bugsNS, r.sa, r.app, "", "")
				require.Equal(t, want, got, "%s with the %s fixture", r.name, fx.Name)
				if r.name == "issuer-without-trailing-slash" && !fx.Widened {
					ds := c.Entra.Decisions()
					require.Equal(t, noSlashNear, ds[len(ds)-1].Detail["nearMiss"], "the decision names the slash")
					require.Equal(t, aks, ds[len(ds)-1].Detail["issuer"])
				}
			}
		})
	}
}
