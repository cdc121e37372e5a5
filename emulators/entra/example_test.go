package entra_test

import (
	"fmt"

	"github.com/idlab/idlab/emulators/entra"
)

// A lab registers an app trusting a cluster's service-account issuer and
// points azidentity at the server (cloud.Configuration
// ActiveDirectoryAuthorityHost = srv.URL()+"/", Transport = srv.Client()).
// The zero Options work: the server makes its own CA (CACertPEM).
func ExampleNewServer() {
	srv, err := entra.NewServer(entra.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	err = srv.Handler().AddApp(entra.App{
		Tenant:   "72f988bf-86f1-41af-91ab-2d7cd011db47",
		ClientID: "0f7c3a4e-1f8b-4c55-9d1e-8a3b2c1d0e9f",
		FederatedCredentials: []entra.FederatedCredential{{
			Issuer:  "https://oidc.prod-aks.azure.com/lab/",
			Subject: "system:serviceaccount:apps:blob-reader",
		}},
		Roles: map[string][]string{"https://storage.azure.com": {"Storage.Blob.Read"}},
	})
	fmt.Println(err, srv.Handler().Apps()[0].FederatedCredentials[0].Audiences)
	// Output: <nil> [api://AzureADTokenExchange]
}
