package entra

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DefaultFederatedAudience is the audience Entra suggests (and the Azure
// Workload Identity webhook requests) for federated credentials.
const DefaultFederatedAudience = "api://AzureADTokenExchange"

// ErrInvalid is wrapped by AddApp and AddTenant for refused input.
var ErrInvalid = errors.New("invalid")

// Tenant is an Entra directory.
type Tenant struct {
	// ID is the tenant ID (a GUID in Entra; any path-safe string here).
	ID string `json:"id"`
	// DisplayName defaults to ID; error messages name the tenant by it.
	DisplayName string `json:"displayName,omitempty"`
	// Domains are other names the tenant answers to in URLs
	// (contoso.onmicrosoft.com).
	Domains []string `json:"domains,omitempty"`
}

// App is an application registration (or user-assigned managed identity)
// with its service principal in Tenant.
type App struct {
	Tenant      string `json:"tenant"`
	ClientID    string `json:"clientId"`
	DisplayName string `json:"displayName,omitempty"`
	// FederatedCredentials are the app's federated identity credentials.
	FederatedCredentials []FederatedCredential `json:"federatedCredentials,omitempty"`
	// Roles maps a resource (https://storage.azure.com) to the app roles
	// granted on it, written into the roles claim.
	Roles map[string][]string `json:"roles,omitempty"`
	// ManagedIdentity makes the app a user-assigned managed identity; nil
	// for an app registration.
	ManagedIdentity *ManagedIdentity `json:"managedIdentity,omitempty"`
}

// FederatedCredential trusts tokens from Issuer about Subject for one of
// Audiences; all compared exactly and case-sensitively, as Entra does.
type FederatedCredential struct {
	Name    string `json:"name,omitempty"`
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
	// Audiences defaults to [DefaultFederatedAudience].
	Audiences []string `json:"audiences,omitempty"`
}

// ObjectID is the object ID of the app's service principal: stable for a
// tenant and client ID, so tokens keep their oid across restarts.
func (a App) ObjectID() string {
	sum := sha256.Sum256([]byte("entra-sp\x00" + a.Tenant + "\x00" + a.ClientID))
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x50 // version 5-style
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// normalize fills defaults and validates an app.
func (a App) normalize() (App, error) {
	if a.Tenant == "" || a.ClientID == "" {
		return a, fmt.Errorf("app: %w: tenant and clientId are required", ErrInvalid)
	}
	if strings.ContainsAny(a.Tenant, "/?#") {
		return a, fmt.Errorf("app %s: %w: tenant %q must be one path segment", a.ClientID, ErrInvalid, a.Tenant)
	}
	if a.DisplayName == "" {
		a.DisplayName = a.ClientID
	}
	fics := make([]FederatedCredential, 0, len(a.FederatedCredentials))
	for i, f := range a.FederatedCredentials {
		if f.Issuer == "" || f.Subject == "" {
			return a, fmt.Errorf("app %s: federated credential %d: %w: issuer and subject are required", a.ClientID, i, ErrInvalid)
		}
		if len(f.Audiences) == 0 {
			f.Audiences = []string{DefaultFederatedAudience}
		}
		f.Audiences = slices.Clone(f.Audiences)
		if f.Name == "" {
			f.Name = fmt.Sprintf("fic-%d", i)
		}
		fics = append(fics, f)
	}
	a.FederatedCredentials = fics
	roles := make(map[string][]string, len(a.Roles))
	for r, rs := range a.Roles {
		roles[canonicalResource(r)] = slices.Clone(rs)
	}
	a.Roles = roles
	if a.ManagedIdentity != nil {
		mi := *a.ManagedIdentity
		if err := mi.normalize(a.ClientID); err != nil {
			return a, err
		}
		a.ManagedIdentity = &mi
	}
	return a, nil
}

// canonicalResource drops the trailing slash Entra ignores when it matches
// a resource URI (https://management.azure.com/ is https://management.azure.com).
func canonicalResource(r string) string { return strings.TrimSuffix(r, "/") }

// firstPartyResources are Microsoft resources every tenant has a service
// principal for; all accept v1 access tokens.
var firstPartyResources = []string{
	"https://storage.azure.com",
	"https://management.azure.com",
	"https://management.core.windows.net",
	"https://vault.azure.net",
	"https://graph.microsoft.com",
	"https://database.windows.net",
	"https://ossrdbms-aad.database.windows.net",
	"https://eventhubs.azure.net",
	"https://servicebus.azure.net",
	"https://monitor.azure.com",
	"https://cognitiveservices.azure.com",
	"https://containerregistry.azure.net",
	"https://api.loganalytics.io",
	"https://kusto.kusto.windows.net",
	"6dae42f8-4368-4678-94ff-3960e28e3630", // Azure Kubernetes Service AAD server
}

func lower(s string) string { return strings.ToLower(s) }
