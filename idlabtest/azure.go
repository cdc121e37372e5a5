package idlabtest

import (
	"fmt"
	"os"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/idlab/idlab/emulators/azureblob"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/emulators/oidc"
)

// DefaultAKSIssuer is the issuer StartAzure hosts when
// AzureOptions.IssuerURL is empty: the lab's aks cluster, as
// fixtures/azure/lab.yaml's federated credentials name it.
const DefaultAKSIssuer = "https://westus2.oic.prod-aks.azure.com/6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b/3EBC6E7935B29D78BA982BAE8FB51607/"

// AzureOptions say what StartAzure serves.
type AzureOptions struct {
	// IssuerURL is the AKS cluster's service-account issuer. Defaults to
	// DefaultAKSIssuer.
	IssuerURL string
	// Fixtures are Azure fixture files or directories (YAML: tenants, apps
	// with federated credentials, storage accounts with role assignments;
	// see packages entra and azureblob), loaded in order.
	Fixtures []string
}

// Azure is an AKS cluster's OIDC issuer with Entra ID and Blob Storage,
// wired as Azure Workload Identity wires them: Entra trusts the issuer's
// tokens through the apps' federated credentials, and the blob service
// accepts Entra's tokens under its role assignments. Every server has its
// own CA; each server's Client trusts it.
type Azure struct {
	// Issuers serves the issuer's discovery document and JWKS.
	Issuers *oidc.Server
	// Issuer holds the signing key: it mints service-account tokens.
	Issuer *oidc.Issuer
	// Entra is login.microsoftonline.com.
	Entra *entra.Server
	// Blob is ACCOUNT.blob.core.windows.net.
	Blob *azureblob.Server

	tokens string // directory of TokenFile's files
}

// StartAzure starts the issuer, Entra and the blob service with
// opts.Fixtures loaded into both. Close stops them.
func StartAzure(opts AzureOptions) (_ *Azure, err error) {
	if opts.IssuerURL == "" {
		opts.IssuerURL = DefaultAKSIssuer
	}
	a := &Azure{}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.tokens, err = os.MkdirTemp("", "idlabtest-azure-tokens-"); err != nil {
		return nil, fmt.Errorf("idlabtest: %w", err)
	}
	if a.Issuers, err = oidc.NewServer(oidc.Options{}); err != nil {
		return nil, fmt.Errorf("idlabtest: issuer: %w", err)
	}
	if a.Issuer, err = signingIssuer(a.Issuers.Handler(), opts.IssuerURL); err != nil {
		return nil, err
	}
	if a.Entra, err = entra.NewServer(entra.Options{HTTPClient: a.Issuers.Client()}); err != nil {
		return nil, fmt.Errorf("idlabtest: entra: %w", err)
	}
	if a.Blob, err = azureblob.NewServer(azureblob.Options{Tokens: a.Entra.Handler()}); err != nil {
		return nil, fmt.Errorf("idlabtest: azureblob: %w", err)
	}
	for _, f := range opts.Fixtures {
		if err := a.Entra.Handler().LoadFixtures(f); err != nil {
			return nil, fmt.Errorf("idlabtest: entra fixtures: %w", err)
		}
		if err := a.Blob.Handler().LoadFixtures(f); err != nil {
			return nil, fmt.Errorf("idlabtest: azureblob fixtures: %w", err)
		}
	}
	return a, nil
}

// NewAzure is StartAzure for a test: it fails t on error and closes at the
// test's end.
func NewAzure(t testing.TB, opts AzureOptions) *Azure {
	t.Helper()
	a, err := StartAzure(opts)
	return started(t, a, err)
}

// TokenFile mints a token for namespace/serviceAccount with the audience
// api://AzureADTokenExchange, as the Azure Workload Identity webhook
// projects it, and writes it to a new file: a pod's
// AZURE_FEDERATED_TOKEN_FILE.
func (a *Azure) TokenFile(namespace, serviceAccount string) (string, error) {
	return writeTokenFor(a.Issuer, a.tokens, namespace, serviceAccount, entra.DefaultFederatedAudience)
}

// Credential is the unmodified azidentity.WorkloadIdentityCredential of
// the app clientID of tenant, as a pod with the Azure Workload Identity
// environment builds it: the token in tokenFile (re-read when the
// credential refreshes) is its client assertion at Entra.
func (a *Azure) Credential(tenant, clientID, tokenFile string) (azcore.TokenCredential, error) {
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: clientOptions(a.Entra.Client(), a.Entra.URL()+"/"),
		TenantID:      tenant, ClientID: clientID, TokenFilePath: tokenFile,
	})
	if err != nil {
		return nil, fmt.Errorf("idlabtest: azure credential: %w", err)
	}
	return cred, nil
}

// BlobClient is an unmodified azblob client of the storage account
// (https://ACCOUNT.blob.core.windows.net/, reached through Blob.Client)
// with cred, as from Credential.
func (a *Azure) BlobClient(account string, cred azcore.TokenCredential) (*azblob.Client, error) {
	c, err := azblob.NewClient("https://"+account+".blob.core.windows.net/", cred,
		&azblob.ClientOptions{ClientOptions: clientOptions(a.Blob.Client(), "")})
	if err != nil {
		return nil, fmt.Errorf("idlabtest: blob client: %w", err)
	}
	return c, nil
}

// clientOptions send through t with no retries (a test wants the first
// answer), at the authority host when one is given.
func clientOptions(t policy.Transporter, authority string) azcore.ClientOptions {
	o := azcore.ClientOptions{Transport: t, Retry: policy.RetryOptions{MaxRetries: -1}}
	if authority != "" {
		o.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: authority}
	}
	return o
}

// Close stops the servers and removes the token files.
func (a *Azure) Close() {
	if a.Blob != nil {
		a.Blob.Close()
	}
	if a.Entra != nil {
		a.Entra.Close()
	}
	if a.Issuers != nil {
		a.Issuers.Close()
	}
	if a.tokens != "" {
		_ = os.RemoveAll(a.tokens)
	}
}
