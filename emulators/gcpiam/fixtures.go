package gcpiam

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// FixtureError is a bad fixture, located at file:line.
type FixtureError struct {
	File string
	Line int
	Msg  string
	Err  error
}

func (e *FixtureError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }
func (e *FixtureError) Unwrap() error { return e.Err }

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
	return decodeStrict(n, (*plain)(p))
}

func (s *saFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain saFixture
	s.line = n.Line
	return decodeStrict(n, (*plain)(s))
}

func (p *poolFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain poolFixture
	p.line = n.Line
	return decodeStrict(n, (*plain)(p))
}

func (b *bindingFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain bindingFixture
	b.line = n.Line
	return decodeStrict(n, (*plain)(b))
}

// decodeStrict refuses unknown keys (with their line) before decoding.
func decodeStrict(n *yaml.Node, v any) error {
	if n.Kind == yaml.MappingNode {
		allowed := map[string]bool{}
		t := reflect.TypeOf(v).Elem()
		for i := 0; i < t.NumField(); i++ {
			if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" {
				allowed[tag] = true
			}
		}
		for k := 0; k+1 < len(n.Content); k += 2 {
			if key := n.Content[k]; !allowed[key.Value] {
				return &FixtureError{Line: key.Line, Msg: fmt.Sprintf("unknown field %q", key.Value)}
			}
		}
	} else if n.Kind != 0 && n.Tag != "!!null" {
		return &FixtureError{Line: n.Line, Msg: "want a mapping"}
	}
	return n.Decode(v)
}

// LoadFixtures loads a YAML file, or every *.yaml / *.yml in a directory
// in name order.
func (h *Handler) LoadFixtures(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("gcpiam fixtures: %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return fmt.Errorf("gcpiam fixtures: %w", err)
		}
		files = files[:0]
		for _, e := range entries {
			if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
				files = append(files, filepath.Join(path, n))
			}
		}
		sort.Strings(files)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("gcpiam fixtures: %w", err)
		}
		if err := h.LoadFixtureYAML(f, raw); err != nil {
			return err
		}
	}
	return nil
}

// ParseFixtures decodes and checks a fixture document without applying it.
func ParseFixtures(name string, raw []byte) (*fixtureDoc, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, &FixtureError{File: name, Line: yamlErrLine(err), Msg: err.Error(), Err: err}
	}
	doc := &fixtureDoc{}
	if len(root.Content) == 0 {
		return doc, nil
	}
	if err := decodeStrict(root.Content[0], doc); err != nil {
		return nil, locate(name, err)
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

func locate(file string, err error) error {
	var fe *FixtureError
	if errors.As(err, &fe) {
		fe.File = file
		return fe
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return &FixtureError{File: file, Line: yamlErrLine(errors.New(te.Errors[0])), Msg: te.Errors[0], Err: err}
	}
	return &FixtureError{File: file, Line: yamlErrLine(err), Msg: err.Error(), Err: err}
}

// yamlErrLine pulls "line N" out of a yaml.v3 error message.
func yamlErrLine(err error) int {
	s := err.Error()
	if k := strings.Index(s, "line "); k >= 0 {
		rest := s[k+5:]
		end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if end < 0 {
			end = len(rest)
		}
		n, _ := strconv.Atoi(rest[:end])
		return n
	}
	return 0
}
