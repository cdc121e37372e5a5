package entra

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/internal/fixtureyaml"
)

// FixtureError is a bad fixture, located at file:line.
type FixtureError = fixtureyaml.Error

// Fixture document:
//
//	tenants:
//	- id: 11111111-2222-3333-4444-555555555555
//	  name: lab            # optional display name
//	  domains: [lab.onmicrosoft.com]
//	  apps:
//	  - clientId: aaaaaaaa-...
//	    name: blob-reader
//	    federatedCredentials:
//	    - name: aks-reader  # optional
//	      issuer: https://oidc.prod-aks.azure.com/X/
//	      subject: system:serviceaccount:ns:sa
//	      audiences: [api://AzureADTokenExchange]   # the default
//	    roles:
//	      https://storage.azure.com: [Storage.Blob.Read]
//	  managedIdentities:       # user-assigned managed identities
//	  - name: pod-reader        # the ARM resource name
//	    clientId: cccccccc-...
//	    subscription: SUB       # optional (DefaultSubscription)
//	    resourceGroup: RG       # optional (DefaultResourceGroup)
//	    federatedCredentials: [...]   # optional, as for apps
//	  storageAccounts: [...]   # read by emulators/azureblob
//	  roleAssignments: [...]   # read by emulators/azurearm
type fixtureDoc struct {
	Tenants []tenantFixture `yaml:"tenants"`
}

type tenantFixture struct {
	ID      string       `yaml:"id"`
	Name    string       `yaml:"name"`
	Domains []string     `yaml:"domains"`
	Apps    []appFixture `yaml:"apps"`
	// ManagedIdentities are apps with an ARM resource of their own.
	ManagedIdentities []miFixture `yaml:"managedIdentities"`
	// StorageAccounts belong to the blob emulator (emulators/azureblob);
	// accepted so one file describes a tenant.
	StorageAccounts []yaml.Node `yaml:"storageAccounts"`
	// RoleAssignments belong to Resource Manager (emulators/azurearm).
	RoleAssignments []yaml.Node `yaml:"roleAssignments"`
	line            int
}

type appFixture struct {
	ClientID string              `yaml:"clientId"`
	Name     string              `yaml:"name"`
	FICs     []ficFixture        `yaml:"federatedCredentials"`
	Roles    map[string][]string `yaml:"roles"`
	line     int
}

type miFixture struct {
	Name          string       `yaml:"name"`
	ClientID      string       `yaml:"clientId"`
	Subscription  string       `yaml:"subscription"`
	ResourceGroup string       `yaml:"resourceGroup"`
	FICs          []ficFixture `yaml:"federatedCredentials"`
	line          int
}

func (m *miFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain miFixture
	m.line = n.Line
	return fixtureyaml.DecodeStrict(n, (*plain)(m))
}

type ficFixture struct {
	Name      string   `yaml:"name"`
	Issuer    string   `yaml:"issuer"`
	Subject   string   `yaml:"subject"`
	Audiences []string `yaml:"audiences"`
	line      int
}

func (t *tenantFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain tenantFixture
	t.line = n.Line
	return fixtureyaml.DecodeStrict(n, (*plain)(t))
}

func (a *appFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain appFixture
	a.line = n.Line
	return fixtureyaml.DecodeStrict(n, (*plain)(a))
}

func (f *ficFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain ficFixture
	f.line = n.Line
	return fixtureyaml.DecodeStrict(n, (*plain)(f))
}

// LoadFixtures reads a fixture file, or every *.yaml / *.yml of a
// directory in name order, and applies it.
func (h *Handler) LoadFixtures(path string) error {
	return fixtureyaml.Load(path, "entra", h.LoadFixtureYAML)
}

// parseFixtures decodes and checks a fixture document without applying it;
// every App it returns is valid for AddApp.
func parseFixtures(name string, raw []byte) ([]Tenant, []App, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, nil, &FixtureError{File: name, Line: fixtureyaml.ErrLine(err), Msg: err.Error(), Err: err}
	}
	doc := &fixtureDoc{}
	if len(root.Content) > 0 {
		if err := fixtureyaml.DecodeStrict(root.Content[0], doc); err != nil {
			return nil, nil, fixtureyaml.Locate(name, err)
		}
	}
	at := func(line int, err error) error {
		return &FixtureError{File: name, Line: line, Msg: err.Error(), Err: err}
	}
	var tenants []Tenant
	var apps []App
	seen := map[string]int{}
	for _, t := range doc.Tenants {
		if t.ID == "" || strings.ContainsAny(t.ID, "/?#") || reserved(t.ID) {
			return nil, nil, at(t.line, fmt.Errorf("tenant: %w: id %q must be one non-reserved path segment", ErrInvalid, t.ID))
		}
		if l, dup := seen["t/"+t.ID]; dup {
			return nil, nil, at(t.line, fmt.Errorf("tenant %q: %w: also defined at line %d", t.ID, ErrInvalid, l))
		}
		seen["t/"+t.ID] = t.line
		tenants = append(tenants, Tenant{ID: t.ID, DisplayName: t.Name, Domains: t.Domains})
		type entry struct {
			app  App
			fics []ficFixture
			line int
		}
		var entries []entry
		for _, a := range t.Apps {
			entries = append(entries, entry{App{Tenant: t.ID, ClientID: a.ClientID, DisplayName: a.Name, Roles: a.Roles}, a.FICs, a.line})
		}
		for _, m := range t.ManagedIdentities {
			mi := &ManagedIdentity{Name: m.Name, Subscription: m.Subscription, ResourceGroup: m.ResourceGroup}
			entries = append(entries, entry{App{Tenant: t.ID, ClientID: m.ClientID, DisplayName: m.Name, ManagedIdentity: mi}, m.FICs, m.line})
		}
		for _, e := range entries {
			app := e.app
			for _, f := range e.fics {
				if f.Issuer == "" || f.Subject == "" {
					return nil, nil, at(f.line, fmt.Errorf("federated credential: %w: issuer and subject are required", ErrInvalid))
				}
				app.FederatedCredentials = append(app.FederatedCredentials, FederatedCredential{Name: f.Name, Issuer: f.Issuer, Subject: f.Subject, Audiences: f.Audiences})
			}
			norm, err := app.normalize()
			if err != nil {
				return nil, nil, at(e.line, err)
			}
			key := "a/" + t.ID + "/" + app.ClientID
			if l, dup := seen[key]; dup {
				return nil, nil, at(e.line, fmt.Errorf("app %q: %w: also defined at line %d", app.ClientID, ErrInvalid, l))
			}
			seen[key] = e.line
			apps = append(apps, norm)
		}
	}
	return tenants, apps, nil
}

// LoadFixtureYAML applies one fixture document; name labels errors. Nothing
// is applied when the document has an error.
func (h *Handler) LoadFixtureYAML(name string, raw []byte) error {
	tenants, apps, err := parseFixtures(name, raw)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if err := h.AddTenant(t); err != nil {
			return fmt.Errorf("entra fixtures %s: %w", name, err)
		}
	}
	for _, a := range apps {
		if err := h.AddApp(a); err != nil {
			return fmt.Errorf("entra fixtures %s: %w", name, err)
		}
	}
	return nil
}
