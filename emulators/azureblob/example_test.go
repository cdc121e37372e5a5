package azureblob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/idlab/idlab/emulators/azureblob"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/emulators/oidc"
)

// Azure Workload Identity with the unmodified SDK: an AKS-style issuer
// mints the service account's token, azidentity presents it to Entra as a
// client assertion, and azblob reads with Entra's token at the account's
// real host name (Server.Client dials the emulator). Role assignments let
// the app read team-a-data only. Every server makes its own CA.
func ExampleNewServer() {
	const (
		issuer = "https://westus2.oic.prod-aks.azure.com/72f988bf-86f1-41af-91ab-2d7cd011db47/EXAMPLE/"
		tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		app    = "0f7c3a4e-1f8b-4c55-9d1e-8a3b2c1d0e9f"
	)
	issuers, err := oidc.NewServer(oidc.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer issuers.Close()
	iss, err := issuers.Handler().AddIssuer(issuer)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := iss.AddKey("RS256"); err != nil {
		log.Fatal(err)
	}
	login, err := entra.NewServer(entra.Options{HTTPClient: issuers.Client()})
	if err != nil {
		log.Fatal(err)
	}
	defer login.Close()
	blob, err := azureblob.NewServer(azureblob.Options{Tokens: login.Handler()})
	if err != nil {
		log.Fatal(err)
	}
	defer blob.Close()
	// One fixture document describes the tenant's app and the storage account.
	fixture := []byte(`tenants:
  - id: ` + tenant + `
    apps:
      - clientId: ` + app + `
        federatedCredentials: [{issuer: "` + issuer + `", subject: "system:serviceaccount:apps:reader"}]
    storageAccounts:
      - name: example
        containers:
          - {name: team-a-data, blobs: {hello.txt: "hello from team-a-data"}}
          - {name: team-b-data, blobs: {secret.txt: "team b only"}}
        roleAssignments:
          - {assignee: ` + app + `, role: Storage Blob Data Reader, container: team-a-data}
`)
	if err := login.Handler().LoadFixtureYAML("example.yaml", fixture); err != nil {
		log.Fatal(err)
	}
	if err := blob.Handler().LoadFixtureYAML("example.yaml", fixture); err != nil {
		log.Fatal(err)
	}

	assertion := func(context.Context) (string, error) {
		return iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "apps", ServiceAccount: "reader", Audiences: []string{entra.DefaultFederatedAudience}})
	}
	cred, err := azidentity.NewClientAssertionCredential(tenant, app, assertion, &azidentity.ClientAssertionCredentialOptions{
		ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: login.URL() + "/"}, Transport: login.Client()}})
	if err != nil {
		log.Fatal(err)
	}
	client, err := azblob.NewClient("https://example.blob.core.windows.net/", cred,
		&azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: blob.Client()}})
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range [][2]string{{"team-a-data", "hello.txt"}, {"team-b-data", "secret.txt"}} {
		resp, err := client.DownloadStream(context.Background(), b[0], b[1], nil)
		var re *azcore.ResponseError
		switch {
		case err == nil:
			text, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fmt.Println(b[0], "reads:", string(text))
		case errors.As(err, &re):
			fmt.Println(b[0], "is refused:", re.StatusCode, re.ErrorCode)
		default:
			log.Fatal(err)
		}
	}
	// Output:
	// team-a-data reads: hello from team-a-data
	// team-b-data is refused: 403 AuthorizationPermissionMismatch
}
