package awsiam

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/internal/fixtureyaml"
)

// FixtureError is a bad fixture, located at file:line.
type FixtureError = fixtureyaml.Error

// LoadFixtures loads a YAML file, or every *.yaml / *.yml in a directory in
// name order. Errors name the file as given (dir/file.yaml:LINE).
func (i *IAM) LoadFixtures(p string) error {
	files, err := FixtureFiles(p)
	if err != nil {
		return err
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("fixtures: %w", err)
		}
		if err := i.LoadFixtureYAML(f, raw); err != nil {
			return err
		}
	}
	return nil
}

// FixtureFiles lists the fixture files at p: p itself, or the *.yaml and
// *.yml files of a directory in name order, the order LoadFixtures uses.
func FixtureFiles(p string) ([]string, error) { return fixtureyaml.Files(p) }

func isFixtureName(n string) bool {
	return strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")
}

// LoadFixturesFS loads fixtures from fsys: name is a file or a directory.
func (i *IAM) LoadFixturesFS(fsys fs.FS, name string) error {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return fmt.Errorf("fixtures: %w", err)
	}
	files := []string{name}
	if st.IsDir() {
		entries, err := fs.ReadDir(fsys, name)
		if err != nil {
			return fmt.Errorf("fixtures: %w", err)
		}
		files = files[:0]
		for _, e := range entries {
			if !e.IsDir() && isFixtureName(e.Name()) {
				files = append(files, path.Join(name, e.Name()))
			}
		}
		sort.Strings(files)
	}
	for _, f := range files {
		raw, err := fs.ReadFile(fsys, f)
		if err != nil {
			return fmt.Errorf("fixtures: %w", err)
		}
		if err := i.LoadFixtureYAML(f, raw); err != nil {
			return err
		}
	}
	return nil
}

// fixture document shapes; yaml.Node fields keep line numbers.
type fixtureDoc struct {
	// AWSManagedPolicies are AWS managed policies (arn:aws:iam::aws:policy/
	// NAME) the lab holds, with the document AWS gives them, for roles to
	// attach: no IAM API can create them.
	AWSManagedPolicies []policyFixture  `yaml:"awsManagedPolicies"`
	Accounts           []accountFixture `yaml:"accounts"`
}

type accountFixture struct {
	ID            string            `yaml:"id"`
	Alias         string            `yaml:"alias"`
	OIDCProviders []providerFixture `yaml:"oidcProviders"`
	Policies      []policyFixture   `yaml:"policies"`
	Roles         []roleFixture     `yaml:"roles"`
	Users         []userFixture     `yaml:"users"`
	// Buckets and Topics belong to the S3 and SNS emulators; IAM accepts
	// them so one file describes an account, and harness/cloud loads them.
	Buckets []yaml.Node `yaml:"buckets"`
	Topics  []yaml.Node `yaml:"topics"`
	line    int
}

type providerFixture struct {
	URL         string   `yaml:"url"`
	ClientIDs   []string `yaml:"clientIDs"`
	Thumbprints []string `yaml:"thumbprints"`
	line        int
}

type policyFixture struct {
	Name     string    `yaml:"name"`
	Path     string    `yaml:"path"`
	Document yaml.Node `yaml:"document"`
	line     int
}

type roleFixture struct {
	Name               string               `yaml:"name"`
	Path               string               `yaml:"path"`
	MaxSessionDuration string               `yaml:"maxSessionDuration"`
	TrustPolicy        yaml.Node            `yaml:"trustPolicy"`
	InlinePolicies     map[string]yaml.Node `yaml:"inlinePolicies"`
	ManagedPolicies    []string             `yaml:"managedPolicies"`
	Tags               map[string]string    `yaml:"tags"`
	line               int
}

type userFixture struct {
	Name            string               `yaml:"name"`
	Path            string               `yaml:"path"`
	InlinePolicies  map[string]yaml.Node `yaml:"inlinePolicies"`
	ManagedPolicies []string             `yaml:"managedPolicies"`
	Tags            map[string]string    `yaml:"tags"`
	line            int
}

// The Unmarshal hooks record each item's line.
func (a *accountFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain accountFixture
	if err := fixtureyaml.DecodeStrict(n, (*plain)(a)); err != nil {
		return err
	}
	a.line = n.Line
	return nil
}

func (p *providerFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain providerFixture
	if err := fixtureyaml.DecodeStrict(n, (*plain)(p)); err != nil {
		return err
	}
	p.line = n.Line
	return nil
}

func (p *policyFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain policyFixture
	if err := fixtureyaml.DecodeStrict(n, (*plain)(p)); err != nil {
		return err
	}
	p.line = n.Line
	return nil
}

func (r *roleFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain roleFixture
	if err := fixtureyaml.DecodeStrict(n, (*plain)(r)); err != nil {
		return err
	}
	r.line = n.Line
	return nil
}

func (u *userFixture) UnmarshalYAML(n *yaml.Node) error {
	type plain userFixture
	if err := fixtureyaml.DecodeStrict(n, (*plain)(u)); err != nil {
		return err
	}
	u.line = n.Line
	return nil
}

// LoadFixtureYAML loads one fixture document; name labels errors.
func (i *IAM) LoadFixtureYAML(name string, raw []byte) error {
	var doc fixtureDoc
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return &FixtureError{File: name, Line: fixtureyaml.ErrLine(err), Msg: err.Error(), Err: err}
	}
	if len(root.Content) == 0 {
		return nil
	}
	if err := fixtureyaml.DecodeStrict(root.Content[0], &doc); err != nil {
		return fixtureyaml.Locate(name, err)
	}
	for _, p := range doc.AWSManagedPolicies {
		if err := i.loadPolicy(name, AWSManaged, p); err != nil {
			return err
		}
	}
	for _, a := range doc.Accounts {
		if err := i.loadAccount(name, a); err != nil {
			return err
		}
	}
	return nil
}

// loadPolicy adds one managed policy of account from a fixture.
func (i *IAM) loadPolicy(file, account string, p policyFixture) error {
	at := func(line int, format string, args ...any) error {
		return &FixtureError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	doc, err := PolicyFromYAML(&p.Document)
	if err == nil {
		err = doc.ValidateFor(IdentityPolicy)
	}
	if err != nil {
		return at(nodeLine(&p.Document, p.line), "policy %q: %v", p.Name, err)
	}
	if _, err := i.AddManagedPolicy(account, p.Name, p.Path, doc); err != nil {
		return at(p.line, "policy %q: %v", p.Name, err)
	}
	return nil
}

func (i *IAM) loadAccount(file string, a accountFixture) error {
	at := func(line int, format string, args ...any) error {
		return &FixtureError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if !accountRe.MatchString(a.ID) {
		return at(a.line, "account id %q must be 12 digits (quote it in YAML)", a.ID)
	}
	if err := i.AddAccount(a.ID, a.Alias); err != nil {
		return at(a.line, "%v", err)
	}
	for _, p := range a.OIDCProviders {
		if err := i.AddOIDCProvider(OIDCProvider{Account: a.ID, URL: p.URL, ClientIDs: p.ClientIDs, Thumbprints: p.Thumbprints}); err != nil {
			return at(p.line, "oidc provider: %v", err)
		}
	}
	for _, p := range a.Policies {
		if err := i.loadPolicy(file, a.ID, p); err != nil {
			return err
		}
	}
	for _, u := range a.Users {
		inline, err := inlineFromNodes(u.InlinePolicies, u.line, at)
		if err != nil {
			return err
		}
		if err := i.AddUser(User{Account: a.ID, Name: u.Name, Path: u.Path, InlinePolicies: inline, ManagedPolicyARNs: u.ManagedPolicies, Tags: u.Tags}); err != nil {
			return at(u.line, "user %q: %v", u.Name, err)
		}
	}
	for _, r := range a.Roles {
		if r.TrustPolicy.Kind == 0 {
			return at(r.line, "role %q: trustPolicy is required", r.Name)
		}
		trust, err := PolicyFromYAML(&r.TrustPolicy)
		if err == nil {
			err = trust.ValidateFor(TrustPolicy)
		}
		if err != nil {
			return at(nodeLine(&r.TrustPolicy, r.line), "role %q trust policy: %v", r.Name, err)
		}
		inline, err := inlineFromNodes(r.InlinePolicies, r.line, at)
		if err != nil {
			return err
		}
		var maxDur time.Duration
		if r.MaxSessionDuration != "" {
			if maxDur, err = parseDuration(r.MaxSessionDuration); err != nil {
				return at(r.line, "role %q: maxSessionDuration %q: want seconds or a duration such as 2h", r.Name, r.MaxSessionDuration)
			}
		}
		if err := i.AddRole(Role{Account: a.ID, Name: r.Name, Path: r.Path, TrustPolicy: trust, InlinePolicies: inline,
			ManagedPolicyARNs: r.ManagedPolicies, MaxSessionDuration: maxDur, Tags: r.Tags}); err != nil {
			return at(r.line, "role %q: %v", r.Name, err)
		}
	}
	return nil
}

func inlineFromNodes(nodes map[string]yaml.Node, line int, at func(int, string, ...any) error) (map[string]*Policy, error) {
	out := map[string]*Policy{}
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		node := nodes[n]
		p, err := PolicyFromYAML(&node)
		if err == nil {
			err = p.ValidateFor(IdentityPolicy)
		}
		if err != nil {
			return nil, at(nodeLine(&node, line), "inline policy %q: %v", n, err)
		}
		out[n] = p
	}
	return out, nil
}

func nodeLine(n *yaml.Node, fallback int) int {
	if n.Line > 0 {
		return n.Line
	}
	return fallback
}

// policyFromNode accepts a YAML mapping or a JSON string holding the policy.
func PolicyFromYAML(n *yaml.Node) (*Policy, error) {
	if n.Kind == yaml.ScalarNode {
		return ParsePolicy([]byte(n.Value))
	}
	budget := 100000 // nodes, so alias expansion cannot blow up
	v, err := nodeJSON(n, 0, &budget)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("policy is not JSON-compatible: %w", err)
	}
	return ParsePolicy(raw)
}

// nodeJSON converts YAML to JSON values keeping scalars as written, so an
// unquoted Version: 2012-10-17 stays that string rather than a timestamp.
func nodeJSON(n *yaml.Node, depth int, budget *int) (any, error) {
	*budget--
	if depth > 64 || *budget < 0 {
		return nil, fmt.Errorf("line %d: policy nests too deeply or is too large", n.Line)
	}
	switch n.Kind {
	case yaml.AliasNode:
		return nodeJSON(n.Alias, depth+1, budget)
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return nodeJSON(n.Content[0], depth+1, budget)
		}
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for k := 0; k+1 < len(n.Content); k += 2 {
			v, err := nodeJSON(n.Content[k+1], depth+1, budget)
			if err != nil {
				return nil, err
			}
			m[n.Content[k].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		a := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeJSON(c, depth+1, budget)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err == nil {
				return b, nil
			}
		case "!!int", "!!float":
			if json.Valid([]byte(n.Value)) {
				return json.Number(n.Value), nil
			}
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML in policy", n.Line)
}

func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}
