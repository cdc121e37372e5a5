package azureblob

import (
	"context"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/internal/fixtureyaml"
)

// Fixture document: the storage accounts of each tenant, in the same file
// as the Entra fixture (emulators/entra), which ignores storageAccounts:
//
//	tenants:
//	- id: TENANT
//	  apps: [...]                       # emulators/entra
//	  storageAccounts:
//	  - name: idlab                      # idlab.blob.core.windows.net
//	    subscription: SUB                # optional (DefaultSubscription)
//	    resourceGroup: RG                # optional (DefaultResourceGroup)
//	    containers:
//	    - name: team-a-data
//	      blobs: {hello.txt: "hi"}
//	    roleAssignments:
//	    - assignee: CLIENT_ID            # an app of the tenant
//	      role: Storage Blob Data Reader
//	      container: team-a-data         # omitted: the whole account
type fixtureDoc struct {
	Tenants []struct {
		ID              string           `yaml:"id"`
		StorageAccounts []accountFixture `yaml:"storageAccounts"`
	} `yaml:"tenants"`
}

type accountFixture struct {
	Name            string              `yaml:"name"`
	Subscription    string              `yaml:"subscription"`
	ResourceGroup   string              `yaml:"resourceGroup"`
	Containers      []containerFixture  `yaml:"containers"`
	RoleAssignments []assignmentFixture `yaml:"roleAssignments"`
	line            int
}

type containerFixture struct {
	Name  string            `yaml:"name"`
	Blobs map[string]string `yaml:"blobs"`
	line  int
}

type assignmentFixture struct {
	Assignee  string `yaml:"assignee"`
	Role      string `yaml:"role"`
	Container string `yaml:"container"`
	line      int
}

func (a *accountFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain accountFixture
	a.line = n.Line
	return fixtureyaml.DecodeStrict(n, (*plain)(a))
}

func (c *containerFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain containerFixture
	c.line = n.Line
	return fixtureyaml.DecodeStrict(n, (*plain)(c))
}

func (f *assignmentFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain assignmentFixture
	f.line = n.Line
	return fixtureyaml.DecodeStrict(n, (*plain)(f))
}

// LoadFixtures reads a fixture file, or every *.yaml / *.yml of a directory
// in name order, and applies it.
func (h *Handler) LoadFixtures(path string) error {
	return fixtureyaml.Load(path, "azureblob", h.LoadFixtureYAML)
}

// LoadFixtureYAML applies one fixture document; name labels errors.
// Containers are created when missing and fixture blobs (re)written;
// role assignments are added.
func (h *Handler) LoadFixtureYAML(name string, raw []byte) error {
	var doc fixtureDoc
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fixtureyaml.Locate(name, err)
	}
	at := func(line int, err error) error {
		return &fixtureyaml.Error{File: name, Line: line, Msg: err.Error(), Err: err}
	}
	ctx := context.Background()
	for _, t := range doc.Tenants {
		for _, af := range t.StorageAccounts {
			acct := Account{Name: af.Name, Tenant: t.ID, Subscription: af.Subscription, ResourceGroup: af.ResourceGroup}
			if err := h.AddAccount(acct); err != nil {
				return at(af.line, err)
			}
			h.mu.RLock()
			a := h.accounts[af.Name].Account
			h.mu.RUnlock()
			for _, cf := range af.Containers {
				if err := h.CreateContainer(ctx, af.Name, cf.Name); err != nil {
					return at(cf.line, err)
				}
				for bn, text := range cf.Blobs {
					if err := h.PutBlob(ctx, af.Name, cf.Name, bn, []byte(text), "text/plain"); err != nil {
						return at(cf.line, err)
					}
				}
			}
			for _, rf := range af.RoleAssignments {
				if rf.Assignee == "" {
					return at(rf.line, fmt.Errorf("role assignment: %w: assignee is required", ErrInvalid))
				}
				scope := "/subscriptions/" + a.Subscription + "/resourceGroups/" + a.ResourceGroup + "/providers/Microsoft.Storage/storageAccounts/" + a.Name
				if rf.Container != "" {
					scope = ContainerScope(a.Subscription, a.ResourceGroup, a.Name, rf.Container)
				}
				if err := h.AssignRole(af.Name, AssignmentFor(t.ID, rf.Assignee, rf.Role, scope)); err != nil {
					return at(rf.line, err)
				}
			}
		}
	}
	return nil
}
