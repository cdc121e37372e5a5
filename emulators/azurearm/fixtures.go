package azurearm

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/internal/fixtureyaml"
)

// Fixture document: Resource Manager's role assignments of each tenant,
// in the file of the Entra fixture (emulators/entra), which ignores
// roleAssignments:
//
//	tenants:
//	- id: TENANT
//	  roleAssignments:
//	  - assignee: CLIENT_ID       # an app or managed identity of the tenant
//	    role: Virtual Machine Contributor
//	    scope: /subscriptions/SUB/resourceGroups/RG
type fixtureDoc struct {
	Tenants []struct {
		ID              string              `yaml:"id"`
		RoleAssignments []assignmentFixture `yaml:"roleAssignments"`
	} `yaml:"tenants"`
}

type assignmentFixture struct {
	Assignee string `yaml:"assignee"`
	Role     string `yaml:"role"`
	Scope    string `yaml:"scope"`
	line     int
}

func (f *assignmentFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain assignmentFixture
	f.line = n.Line
	return fixtureyaml.DecodeStrict(n, (*plain)(f))
}

// LoadFixtures reads a fixture file, or every *.yaml / *.yml of a
// directory in name order, and adds its role assignments.
func (h *Handler) LoadFixtures(path string) error {
	return fixtureyaml.Load(path, "azurearm", h.LoadFixtureYAML)
}

// LoadFixtureYAML applies one fixture document; name labels errors.
func (h *Handler) LoadFixtureYAML(name string, raw []byte) error {
	var doc fixtureDoc
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fixtureyaml.Locate(name, err)
	}
	for _, t := range doc.Tenants {
		for _, rf := range t.RoleAssignments {
			if rf.Assignee == "" {
				return &fixtureyaml.Error{File: name, Line: rf.line, Msg: "role assignment: assignee is required", Err: ErrInvalid}
			}
			if err := h.AssignRole(AssignmentFor(t.ID, rf.Assignee, rf.Role, rf.Scope)); err != nil {
				return &fixtureyaml.Error{File: name, Line: rf.line, Msg: fmt.Sprint(err), Err: err}
			}
		}
	}
	return nil
}
