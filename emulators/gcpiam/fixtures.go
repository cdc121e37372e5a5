package gcpiam

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/internal/fixtureyaml"
)

// FixtureError is a bad fixture, located at file:line.
type FixtureError = fixtureyaml.Error

// Fixture document shapes (see the package documentation).
type fixtureDoc struct {
	Projects []projectFixture `yaml:"projects"`
}

type projectFixture struct {
	ID              string           `yaml:"id"`
	Number          string           `yaml:"number"`
	ServiceAccounts []saFixture      `yaml:"serviceAccounts"`
	Pools           []poolFixture    `yaml:"workloadIdentityPools"`
	Bindings        []bindingFixture `yaml:"bindings"`
	// Buckets belong to the GCS emulator; accepted so one file describes a
	// project.
	Buckets []yaml.Node `yaml:"buckets"`
	line    int
}

type saFixture struct {
	ID          string `yaml:"id"`
	DisplayName string `yaml:"displayName"`
	line        int
}

type poolFixture struct {
	ID        string   `yaml:"id"`
	Provider  string   `yaml:"provider"`
	Issuer    string   `yaml:"issuer"`
	Audiences []string `yaml:"audiences"`
	line      int
}

type bindingFixture struct {
	Resource string   `yaml:"resource"`
	Role     string   `yaml:"role"`
	Members  []string `yaml:"members"`
	line     int
}

func (p *projectFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain projectFixture
	p.line = n.Line
	return fixtureyaml.DecodeStrict(n, (*plain)(p))
}

func (s *saFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain saFixture
	s.line = n.Line
	return fixtureyaml.DecodeStrict(n, (*plain)(s))
}

func (p *poolFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain poolFixture
	p.line = n.Line
	return fixtureyaml.DecodeStrict(n, (*plain)(p))
}

func (b *bindingFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain bindingFixture
	b.line = n.Line
	return fixtureyaml.DecodeStrict(n, (*plain)(b))
}

// LoadFixtures loads a YAML file, or every *.yaml / *.yml in a directory
// in name order.
func (h *Handler) LoadFixtures(path string) error {
	return fixtureyaml.Load(path, "gcpiam", h.LoadFixtureYAML)
}

// ParseFixtures decodes and checks a fixture document without applying it.
func ParseFixtures(name string, raw []byte) (*fixtureDoc, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, &FixtureError{File: name, Line: fixtureyaml.ErrLine(err), Msg: err.Error(), Err: err}
	}
	doc := &fixtureDoc{}
	if len(root.Content) == 0 {
		return doc, nil
	}
	if err := fixtureyaml.DecodeStrict(root.Content[0], doc); err != nil {
		return nil, fixtureyaml.Locate(name, err)
	}
	return doc, nil
}

// LoadFixtureYAML applies one fixture document; name labels errors.
// Projects first, then service accounts, pools and bindings, so bindings may
// name accounts of any project in the file.
func (h *Handler) LoadFixtureYAML(name string, raw []byte) error {
	doc, err := ParseFixtures(name, raw)
	if err != nil {
		return err
	}
	at := func(line int, err error) error {
		return &FixtureError{File: name, Line: line, Msg: err.Error(), Err: err}
	}
	for _, p := range doc.Projects {
		if p.ID == "" {
			return at(p.line, fmt.Errorf("project: %w: id is required", ErrInvalid))
		}
		if _, err := h.AddProject(p.ID, p.Number); err != nil {
			return at(p.line, err)
		}
		for _, s := range p.ServiceAccounts {
			if _, err := h.AddServiceAccount(p.ID, s.ID, s.DisplayName); err != nil {
				return at(s.line, err)
			}
		}
		for _, pl := range p.Pools {
			if err := h.AddWorkloadIdentityPool(Pool{Project: p.ID, ID: pl.ID, Provider: pl.Provider, Issuer: pl.Issuer, Audiences: pl.Audiences}); err != nil {
				return at(pl.line, err)
			}
		}
	}
	for _, p := range doc.Projects {
		for _, b := range p.Bindings {
			if err := h.AddBinding(b.Resource, b.Role, b.Members...); err != nil {
				return at(b.line, err)
			}
		}
	}
	return nil
}
