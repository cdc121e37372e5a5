package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Manifest is the expected shape of a full run: every suite (a Go package
// the suite runner runs) and every matrix row each one logs, by ID, with the
// test that logs it. It lives in the repository (scenarios/manifest.yaml)
// so a row that silently stops being logged fails the gate.
type Manifest struct {
	Suites []ManifestSuite `yaml:"suites"`
}

// ManifestSuite is one suite and its rows (none for a suite that checks
// something other than the matrix, such as the node image).
type ManifestSuite struct {
	Package string        `yaml:"package"`
	Rows    []ManifestRow `yaml:"rows"`
}

// ManifestRow is one expected row: Row.ID and the test (Test/sub, within the
// suite's package) that logs it.
type ManifestRow struct {
	ID   string `yaml:"id"`
	Test string `yaml:"test"`
	Tier string `yaml:"tier,omitempty"` // Row.Tier: "" quick, TierSlow
}

// manifestHeader is the comment WriteManifest puts at the top of the file:
// the workflow, for whoever opens it.
const manifestHeader = `# The conformance matrix's expected rows: every suite idlab e2e runs and
# every row id (suite/mechanism/scenario, slugged) with the test that logs it.
#
# idlab e2e fails when a row listed here is missing, skipped or unreadable,
# or a row or suite not listed here appears; a run of a subset (--run, or
# packages named) checks only the rows of the tests it ran and says so.
#
# Generated; do not edit by hand. After adding, renaming or removing rows:
#   make e2e                    # or bin/idlab e2e; keeps artifacts/e2e.json
#   bin/idlab report --write-manifest scenarios/manifest.yaml < artifacts/e2e.json
# The generator refuses a run with failed or skipped tests (their rows may
# be missing). Review git diff scenarios/manifest.yaml: a row that vanished
# is a check the lab no longer makes. Commit it with the scenario change.
`

// ParseManifest reads a manifest, strictly: unknown fields, empty IDs or
// tests, and an ID or package listed twice are errors.
func ParseManifest(raw []byte) (*Manifest, error) {
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if len(m.Suites) == 0 {
		return nil, errors.New("manifest: no suites")
	}
	pkgs, ids := map[string]bool{}, map[string]bool{}
	for _, s := range m.Suites {
		if s.Package == "" || pkgs[s.Package] {
			return nil, fmt.Errorf("manifest: suite package %q empty or listed twice", s.Package)
		}
		pkgs[s.Package] = true
		for _, r := range s.Rows {
			if r.ID == "" || r.Test == "" {
				return nil, fmt.Errorf("manifest: suite %s: a row without id or test (%q, %q)", s.Package, r.ID, r.Test)
			}
			if ids[r.ID] {
				return nil, fmt.Errorf("manifest: row id %q listed twice", r.ID)
			}
			if !validTier(r.Tier) {
				return nil, fmt.Errorf("manifest: row %s: tier %q: want %q or none", r.ID, r.Tier, TierSlow)
			}
			ids[r.ID] = true
		}
	}
	return &m, nil
}

// LoadManifest reads the manifest at path.
func LoadManifest(path string) (*Manifest, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ManifestFrom makes the manifest a run's result shows: its packages that
// ran tests and their rows. It refuses a run with failed or skipped tests,
// whose rows may be missing, and one with duplicate row IDs.
func ManifestFrom(res *Result) (*Manifest, error) {
	var bad []string
	for _, t := range res.Tests {
		if t.Action != "pass" {
			bad = append(bad, fmt.Sprintf("%s %s (%s)", t.Package, t.Name, orNone(t.Action)))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("manifest from a run whose tests did not all pass (their rows may be missing): %s", strings.Join(bad, ", "))
	}
	if dups := res.duplicateIDs(); len(dups) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrDuplicateRows, strings.Join(dups, ", "))
	}
	index := map[string]int{} // package -> its suite in m.Suites
	var m Manifest
	for _, t := range res.Tests {
		if _, ok := index[t.Package]; !ok {
			index[t.Package] = len(m.Suites)
			m.Suites = append(m.Suites, ManifestSuite{Package: t.Package, Rows: []ManifestRow{}})
		}
	}
	for _, row := range res.Rows {
		i, ok := index[pkgOf(row.Test)]
		if !ok {
			return nil, fmt.Errorf("row %s names test %q of no package that ran", row.ID(), row.Test)
		}
		m.Suites[i].Rows = append(m.Suites[i].Rows, ManifestRow{ID: row.ID(), Test: nameOf(row.Test), Tier: row.Tier})
	}
	if len(m.Suites) == 0 {
		return nil, errors.New("manifest from a run with no tests")
	}
	sort.Slice(m.Suites, func(i, j int) bool { return m.Suites[i].Package < m.Suites[j].Package })
	for _, s := range m.Suites {
		sort.Slice(s.Rows, func(i, j int) bool { return s.Rows[i].ID < s.Rows[j].ID })
	}
	return &m, nil
}

func orNone(action string) string {
	if action == "" {
		return "did not finish"
	}
	return action
}

// Write writes the manifest as YAML under its explanatory header.
func (m *Manifest) Write(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString(manifestHeader)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Rows counts the manifest's rows.
func (m *Manifest) Rows() int {
	n := 0
	for _, s := range m.Suites {
		n += len(s.Rows)
	}
	return n
}

// Scope is what a run covered: the packages it ran and the -run pattern
// its tests were selected by. Full says the run claims to be the whole
// manifest (no pattern, the default packages): then every listed suite
// must have run.
type Scope struct {
	Packages []string
	Run      string
	Full     bool
	// Quick says the run left the slow tier out (Manifest.Quick's plan):
	// slow rows are out of scope, and with Full so are suites that hold
	// only slow rows.
	Quick bool
}

// Coverage is how much of the manifest a run was checked against.
type Coverage struct {
	Checked, Total int
}

// Subset reports whether the run checked fewer rows than the manifest has.
func (c Coverage) Subset() bool { return c.Checked < c.Total }

func (c Coverage) String() string {
	if c.Subset() {
		return fmt.Sprintf("subset run: checked %d of %d manifest rows", c.Checked, c.Total)
	}
	return fmt.Sprintf("checked all %d manifest rows", c.Total)
}

// ErrManifest wraps every way a run differs from the manifest.
var ErrManifest = errors.New("the run does not match the manifest")

// Check compares a run with the manifest. In scope are the listed rows of
// the packages the run ran whose test the run's -run pattern selects; each
// must have been logged once, by its listed test, and that test must not
// have skipped. Any logged row or any package the manifest does not list is
// an error, whatever the scope; with scope.Full so is a listed suite that
// did not run.
func (m *Manifest) Check(res *Result, scope Scope) (Coverage, error) {
	inScope, err := scope.rows()
	if err != nil {
		return Coverage{}, err
	}
	listed := map[string]ManifestRow{} // by id
	suites := map[string]bool{}
	for _, s := range m.Suites {
		suites[s.Package] = true
		for _, r := range s.Rows {
			listed[r.ID] = ManifestRow{ID: r.ID, Test: s.Package + "/" + r.Test, Tier: r.Tier}
		}
	}
	var problems []string
	for _, p := range scope.Packages {
		if !suites[p] {
			problems = append(problems, "suite not in the manifest: "+p)
		}
	}
	logged := map[string][]Row{}
	for _, row := range res.Rows {
		id := row.ID()
		logged[id] = append(logged[id], row)
		want, ok := listed[id]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("row not in the manifest: %s (%s)", id, row.Test))
		case want.Tier != row.Tier:
			problems = append(problems, fmt.Sprintf("row %s is tier %q, the manifest says %q", id, tierName(row.Tier), tierName(want.Tier)))
		}
	}
	cov := Coverage{Total: len(listed)}
	for _, s := range m.Suites {
		if scope.Full && !slices.Contains(scope.Packages, s.Package) && !(scope.Quick && s.onlySlow()) {
			problems = append(problems, "listed suite did not run: "+s.Package)
		}
		for _, r := range s.Rows {
			if !inScope(s.Package, r.Test, r.Tier) {
				continue
			}
			cov.Checked++
			if p := res.rowProblem(listed[r.ID], logged[r.ID]); p != "" {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) > 0 {
		return cov, fmt.Errorf("%w (%s):\n  %s", ErrManifest, cov, strings.Join(problems, "\n  "))
	}
	return cov, nil
}

// Select says how many of the manifest's rows a run of scope checks,
// before it runs: a run that would check none proves nothing.
func (m *Manifest) Select(scope Scope) (Coverage, error) {
	inScope, err := scope.rows()
	if err != nil {
		return Coverage{}, err
	}
	cov := Coverage{Total: m.Rows()}
	for _, s := range m.Suites {
		for _, r := range s.Rows {
			if inScope(s.Package, r.Test, r.Tier) {
				cov.Checked++
			}
		}
	}
	return cov, nil
}

// rows returns whether a listed row (its package, its test within it and
// its tier) is in the scope: its package ran, -run selects its test, and
// its tier was not left out.
func (s Scope) rows() (func(pkg, test, tier string) bool, error) {
	sel, err := selector(s.Run)
	if err != nil {
		return nil, err
	}
	return func(pkg, test string, tier string) bool {
		return slices.Contains(s.Packages, pkg) && sel(test) && !(s.Quick && tier == TierSlow)
	}, nil
}

// rowProblem says what is wrong with a listed row given the rows logged
// with its ID, "" when nothing.
func (r *Result) rowProblem(want ManifestRow, got []Row) string {
	switch {
	case len(got) > 1:
		return fmt.Sprintf("row logged %d times: %s", len(got), want.ID)
	case len(got) == 1 && got[0].Test != want.Test:
		return fmt.Sprintf("row %s logged by %s, the manifest says %s", want.ID, got[0].Test, want.Test)
	case len(got) == 1 && r.action(want.Test) == "skip":
		return fmt.Sprintf("row skipped: %s (%s)", want.ID, want.Test)
	case len(got) == 1:
		return ""
	}
	// Missing: say why when the run shows it (the test or a parent skipped).
	pkg, name := pkgOf(want.Test), nameOf(want.Test)
	for {
		if r.action(pkg+"/"+name) == "skip" {
			return fmt.Sprintf("row skipped: %s (%s skipped)", want.ID, name)
		}
		i := strings.LastIndex(name, "/")
		if i < 0 {
			break
		}
		name = name[:i]
	}
	if r.badRows(want.Test) > 0 {
		return fmt.Sprintf("row unreadable: %s (%s logged a row report could not parse)", want.ID, want.Test)
	}
	return fmt.Sprintf("row missing: %s (%s)", want.ID, want.Test)
}

// action is the result of the test named package/Test/sub, "" when the run
// has no such test.
func (r *Result) action(test string) string {
	if t := r.find(test); t != nil {
		return t.Action
	}
	return ""
}

func (r *Result) badRows(test string) int {
	if t := r.find(test); t != nil {
		return t.BadRows
	}
	return 0
}

func (r *Result) find(test string) *Test {
	pkg, name := pkgOf(test), nameOf(test)
	for _, t := range r.Tests {
		if t.Package == pkg && t.Name == name {
			return t
		}
	}
	return nil
}

// selector returns whether `go test -run pattern` runs the test named
// Test/sub/..., by the testing package's rules: the pattern is split at
// each "/" outside brackets and parentheses, and level i of the name must
// match element i (unanchored); a top-level "|" separates alternatives,
// each split so. An empty pattern selects every test.
func selector(pattern string) (func(test string) bool, error) {
	if pattern == "" {
		return func(string) bool { return true }, nil
	}
	var alts [][]*regexp.Regexp
	for _, alt := range splitRun(pattern) {
		var elems []*regexp.Regexp
		for _, e := range alt {
			re, err := regexp.Compile(e)
			if err != nil {
				return nil, fmt.Errorf("-run %q: %w", pattern, err)
			}
			elems = append(elems, re)
		}
		alts = append(alts, elems)
	}
	return func(test string) bool {
		names := strings.Split(test, "/")
		return slices.ContainsFunc(alts, func(elems []*regexp.Regexp) bool {
			for i, re := range elems {
				if i < len(names) && !re.MatchString(names[i]) {
					return false
				}
			}
			return true
		})
	}, nil
}

// splitRun splits a -run pattern as testing's splitRegexp does: into
// alternatives at top-level "|", each into elements at top-level "/".
func splitRun(s string) [][]string {
	var alts [][]string
	var elems []string
	brackets, parens := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			brackets++
		case ']':
			brackets = max(brackets-1, 0) // an unmatched ']' is legal
		case '(':
			if brackets == 0 {
				parens++
			}
		case ')':
			if brackets == 0 {
				parens--
			}
		case '\\':
			i++
		case '/', '|':
			if brackets == 0 && parens == 0 {
				elems = append(elems, s[:i])
				if s[i] == '|' {
					alts, elems = append(alts, elems), nil
				}
				s, i = s[i+1:], -1
			}
		}
	}
	return append(alts, append(elems, s))
}
