package report

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	p1 = "example.com/lab/scenarios/one"
	p2 = "example.com/lab/scenarios/two"
	p3 = "example.com/lab/harness/image" // a suite without rows
)

// testManifest lists rows a and b of p1's TestA, c of p1's TestC, d of
// p2's TestD/x, and p3 without rows.
func testManifest(t *testing.T) *Manifest {
	t.Helper()
	m, err := ParseManifest([]byte(`suites:
- package: ` + p3 + `
  rows: []
- package: ` + p1 + `
  rows:
  - {id: s/m/a, test: TestA/a}
  - {id: s/m/b, test: TestA/b}
  - {id: s/m/c, test: TestC}
- package: ` + p2 + `
  rows:
  - {id: s/m/d, test: TestD/x}
`))
	require.NoError(t, err)
	return m
}

// run is a result where every listed row was logged by its test and every
// test passed; a case edits it.
func run() *Result {
	res := &Result{}
	for _, tc := range []struct{ pkg, name string }{{p1, "TestA"}, {p1, "TestA/a"}, {p1, "TestA/b"}, {p1, "TestC"}, {p2, "TestD"}, {p2, "TestD/x"}, {p3, "TestImage"}} {
		res.Tests = append(res.Tests, &Test{Package: tc.pkg, Name: tc.name, Action: "pass"})
	}
	for _, r := range []struct{ scenario, test string }{{"a", p1 + "/TestA/a"}, {"b", p1 + "/TestA/b"}, {"c", p1 + "/TestC"}, {"d", p2 + "/TestD/x"}} {
		res.Rows = append(res.Rows, Row{Suite: "s", Mechanism: "m", Scenario: r.scenario, Test: r.test})
	}
	return res
}

func dropRow(res *Result, scenario string) {
	res.Rows = slices.DeleteFunc(res.Rows, func(r Row) bool { return r.Scenario == scenario })
}

// dropTests drops pkg's tests whose name begins with prefix.
func dropTests(res *Result, pkg, prefix string) {
	res.Tests = slices.DeleteFunc(res.Tests, func(t *Test) bool { return t.Package == pkg && strings.HasPrefix(t.Name, prefix) })
}

func setAction(res *Result, pkg, name, action string) {
	for _, t := range res.Tests {
		if t.Package == pkg && t.Name == name {
			t.Action = action
		}
	}
}

func TestManifestCheck(t *testing.T) {
	all := []string{p1, p2, p3}
	tests := []struct {
		name    string
		edit    func(*Result)
		scope   Scope
		want    []string // problems; none: the run matches
		checked int
	}{
		{name: "full run matches", scope: Scope{Packages: all, Full: true}, checked: 4},
		{name: "missing row", edit: func(r *Result) { dropRow(r, "b") }, scope: Scope{Packages: all, Full: true},
			want: []string{"row missing: s/m/b (" + p1 + "/TestA/b)"}, checked: 4},
		{name: "unlisted row", edit: func(r *Result) {
			r.Rows = append(r.Rows, Row{Suite: "s", Mechanism: "m", Scenario: "new", Test: p1 + "/TestA/new"})
		}, scope: Scope{Packages: all, Full: true}, want: []string{"row not in the manifest: s/m/new (" + p1 + "/TestA/new)"}, checked: 4},
		{name: "duplicate row", edit: func(r *Result) { r.Rows = append(r.Rows, r.Rows[0]) }, scope: Scope{Packages: all, Full: true},
			want: []string{"row logged 2 times: s/m/a"}, checked: 4},
		{name: "skipped test, no row", edit: func(r *Result) { dropRow(r, "b"); setAction(r, p1, "TestA/b", "skip") },
			scope: Scope{Packages: all, Full: true}, want: []string{"row skipped: s/m/b (TestA/b skipped)"}, checked: 4},
		{name: "skipped parent, no rows", edit: func(r *Result) {
			dropRow(r, "a")
			dropRow(r, "b")
			dropTests(r, p1, "TestA/")
			setAction(r, p1, "TestA", "skip")
		}, scope: Scope{Packages: all, Full: true}, want: []string{"row skipped: s/m/a (TestA skipped)", "row skipped: s/m/b (TestA skipped)"}, checked: 4},
		{name: "row logged, then its test skipped", edit: func(r *Result) { setAction(r, p1, "TestC", "skip") },
			scope: Scope{Packages: all, Full: true}, want: []string{"row skipped: s/m/c (" + p1 + "/TestC)"}, checked: 4},
		{name: "unreadable row", edit: func(r *Result) {
			dropRow(r, "c")
			setAction(r, p1, "TestC", "fail")
			r.Tests[3].BadRows = 1
		}, scope: Scope{Packages: all, Full: true}, want: []string{"row unreadable: s/m/c"}, checked: 4},
		{name: "row moved to another test", edit: func(r *Result) { r.Rows[0].Test = p1 + "/TestA/z" }, scope: Scope{Packages: all, Full: true},
			want: []string{"row s/m/a logged by " + p1 + "/TestA/z, the manifest says " + p1 + "/TestA/a"}, checked: 4},
		{name: "listed suite did not run", edit: func(r *Result) { dropTests(r, p3, "") },
			scope: Scope{Packages: []string{p1, p2}, Full: true}, want: []string{"listed suite did not run: " + p3}, checked: 4},
		{name: "unlisted suite ran", scope: Scope{Packages: append(all, "example.com/lab/scenarios/new"), Full: true},
			want: []string{"suite not in the manifest: example.com/lab/scenarios/new"}, checked: 4},
		// Subsets: only the rows of the tests the run selected are checked.
		{name: "subset by -run", edit: func(r *Result) { dropRow(r, "b"); dropRow(r, "c"); dropRow(r, "d") },
			scope: Scope{Packages: all, Run: "TestA/^a$"}, checked: 1},
		{name: "subset by package", edit: func(r *Result) { r.Rows = r.Rows[3:] }, scope: Scope{Packages: []string{p2}}, checked: 1},
		{name: "subset by alternatives", edit: func(r *Result) { dropRow(r, "a"); dropRow(r, "b") },
			scope: Scope{Packages: all, Run: "TestC|TestD"}, checked: 2},
		{name: "subset still needs its rows", edit: func(r *Result) { dropRow(r, "b") }, scope: Scope{Packages: []string{p1}, Run: "TestA"},
			want: []string{"row missing: s/m/b"}, checked: 2},
		{name: "subset still refuses unlisted rows", edit: func(r *Result) {
			r.Rows = append(r.Rows, Row{Suite: "s", Mechanism: "m", Scenario: "new", Test: p2 + "/TestD/y"})
		}, scope: Scope{Packages: []string{p2}}, want: []string{"row not in the manifest: s/m/new"}, checked: 1},
		{name: "subset: a listed suite that did not run is fine", scope: Scope{Packages: []string{p1}}, checked: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := run()
			if tc.edit != nil {
				tc.edit(res)
			}
			cov, err := testManifest(t).Check(res, tc.scope)
			require.Equal(t, Coverage{Checked: tc.checked, Total: 4}, cov)
			if len(tc.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrManifest)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.Equal(t, len(tc.want), strings.Count(err.Error(), "\n  "), "exactly the problems wanted: %v", err)
		})
	}
}

func TestCoverageString(t *testing.T) {
	require.Equal(t, "subset run: checked 12 of 99 manifest rows", Coverage{Checked: 12, Total: 99}.String())
	require.Equal(t, "checked all 99 manifest rows", Coverage{Checked: 99, Total: 99}.String())
}

func TestManifestCheckBadRun(t *testing.T) {
	_, err := testManifest(t).Check(run(), Scope{Packages: []string{p1}, Run: "("})
	require.ErrorContains(t, err, "-run \"(\"")
}

func TestSelector(t *testing.T) {
	tests := []struct {
		pattern string
		yes, no []string
	}{
		{pattern: "", yes: []string{"TestA", "TestA/a", "TestZ/z/z"}},
		{pattern: "TestA", yes: []string{"TestA", "TestA/a", "TestAB/x"}, no: []string{"TestC", "TestC/TestA"}},
		{pattern: "^TestA$", yes: []string{"TestA/a"}, no: []string{"TestAB/x"}},
		{pattern: "TestA/a", yes: []string{"TestA", "TestA/a", "TestA/ab", "TestA/a/deeper"}, no: []string{"TestA/b"}},
		{pattern: "TestA/^a$", yes: []string{"TestA/a"}, no: []string{"TestA/ab"}},
		{pattern: "TestC|TestA/b", yes: []string{"TestC", "TestA/b"}, no: []string{"TestA/a", "TestD"}},
		{pattern: "Test(A|C)/a", yes: []string{"TestA/a", "TestC/a"}, no: []string{"TestC/b", "TestD/a"}},
		{pattern: "Test[/|]x/a", no: []string{"TestA/a"}},
		{pattern: `Test\|A`, yes: []string{"Test|A"}, no: []string{"TestA"}},
		{pattern: "/b", yes: []string{"TestA/b", "TestC"}, no: []string{"TestA/a"}},
		{pattern: "TestA/a]/b", yes: []string{"TestA/a]/b"}, no: []string{"TestA/a]/c"}},
	}
	for _, tc := range tests {
		sel, err := selector(tc.pattern)
		require.NoError(t, err, tc.pattern)
		for _, n := range tc.yes {
			require.True(t, sel(n), "-run %q must select %s", tc.pattern, n)
		}
		for _, n := range tc.no {
			require.False(t, sel(n), "-run %q must not select %s", tc.pattern, n)
		}
	}
	_, err := selector("Test(")
	require.Error(t, err)
}

func TestSplitRun(t *testing.T) {
	require.Equal(t, [][]string{{"TestA", "b"}}, splitRun("TestA/b"))
	require.Equal(t, [][]string{{"TestA"}, {"TestB", "c"}}, splitRun("TestA|TestB/c"))
	require.Equal(t, [][]string{{"Test(A|B)", "c"}}, splitRun("Test(A|B)/c"))
	require.Equal(t, [][]string{{"Test[/|]"}}, splitRun("Test[/|]"))
	require.Equal(t, [][]string{{`a\/b`}}, splitRun(`a\/b`))
	require.Equal(t, [][]string{{"", ""}}, splitRun("/"))
}

func TestParseManifest(t *testing.T) {
	tests := []struct {
		name, yaml, err string
	}{
		{name: "ok", yaml: "suites:\n- package: p\n  rows:\n  - {id: a, test: TestA}\n"},
		{name: "suite without rows", yaml: "suites:\n- package: p\n  rows: []\n"},
		{name: "empty", yaml: "", err: "manifest: EOF"},
		{name: "no suites", yaml: "suites: []\n", err: "no suites"},
		{name: "not yaml", yaml: "suites: [", err: "manifest: yaml"},
		{name: "unknown field", yaml: "suites:\n- package: p\n  row: []\n", err: "field row not found"},
		{name: "unknown row field", yaml: "suites:\n- package: p\n  rows:\n  - {id: a, test: T, expected: allow}\n", err: "field expected not found"},
		{name: "empty package", yaml: "suites:\n- rows: []\n", err: `suite package "" empty or listed twice`},
		{name: "package twice", yaml: "suites:\n- package: p\n- package: p\n", err: `suite package "p" empty or listed twice`},
		{name: "row without id", yaml: "suites:\n- package: p\n  rows:\n  - {test: T}\n", err: "a row without id or test"},
		{name: "row without test", yaml: "suites:\n- package: p\n  rows:\n  - {id: a}\n", err: "a row without id or test"},
		{name: "id twice", yaml: "suites:\n- package: p\n  rows:\n  - {id: a, test: T}\n- package: q\n  rows:\n  - {id: a, test: U}\n", err: `row id "a" listed twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseManifest([]byte(tc.yaml))
			if tc.err == "" {
				require.NoError(t, err)
				require.NotNil(t, m)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestManifestFrom(t *testing.T) {
	res := run()
	m, err := ManifestFrom(res)
	require.NoError(t, err)
	require.Equal(t, testManifest(t), m, "a passing run gives back its manifest")
	require.Equal(t, 4, m.Rows())

	var b bytes.Buffer
	require.NoError(t, m.Write(&b))
	require.True(t, strings.HasPrefix(b.String(), manifestHeader), "the workflow comment comes first")
	again, err := ParseManifest(b.Bytes())
	require.NoError(t, err)
	require.Equal(t, m, again, "what Write writes, Parse reads")
	cov, err := again.Check(res, Scope{Packages: []string{p1, p2, p3}, Full: true})
	require.NoError(t, err)
	require.False(t, cov.Subset())

	for name, edit := range map[string]func(*Result){
		"failed test":    func(r *Result) { setAction(r, p1, "TestC", "fail") },
		"skipped test":   func(r *Result) { setAction(r, p2, "TestD/x", "skip") },
		"unfinished":     func(r *Result) { setAction(r, p2, "TestD/x", "") },
		"duplicate rows": func(r *Result) { r.Rows = append(r.Rows, r.Rows[0]) },
		"no tests":       func(r *Result) { r.Tests, r.Rows = nil, nil },
		"row of no test": func(r *Result) { r.Rows[0].Test = "example.com/other/TestX" },
	} {
		t.Run(name, func(t *testing.T) {
			res := run()
			edit(res)
			_, err := ManifestFrom(res)
			require.Error(t, err)
		})
	}
}

// FuzzParseManifest: any bytes are refused or give a manifest that writes
// and parses back the same.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte("suites:\n- package: p\n  rows:\n  - {id: a, test: TestA}\n"))
	f.Add([]byte("suites:\n- package: p\n  rows: []\n"))
	f.Add([]byte("suites: [{package: p, rows: [{id: a, test: T}, {id: a, test: U}]}]"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := ParseManifest(raw)
		if err != nil {
			return
		}
		var b bytes.Buffer
		require.NoError(t, m.Write(&b))
		again, err := ParseManifest(b.Bytes())
		require.NoError(t, err, b.String())
		require.Equal(t, m.Rows(), again.Rows())
	})
}

// FuzzSelector: any -run pattern either fails to compile or selects
// without panicking.
func FuzzSelector(f *testing.F) {
	for _, p := range []string{"", "TestA/b", "Test(A|B)/[/]c", `a\/b|c`, "]]/(("} {
		f.Add(p, "TestA/b/c")
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if sel, err := selector(pattern); err == nil {
			sel(name)
		}
	})
}

func TestManifestSelect(t *testing.T) {
	all := []string{p1, p2, p3}
	for _, tc := range []struct {
		scope   Scope
		checked int
	}{
		{Scope{Packages: all, Full: true}, 4},
		{Scope{Packages: all, Run: "NOMATCH"}, 0},
		{Scope{Packages: all, Run: "TestA"}, 2},
		{Scope{Packages: []string{p2}}, 1},
		{Scope{Packages: []string{p3}}, 0},
	} {
		cov, err := testManifest(t).Select(tc.scope)
		require.NoError(t, err)
		require.Equal(t, Coverage{Checked: tc.checked, Total: 4}, cov, "%+v", tc.scope)
	}
	_, err := testManifest(t).Select(Scope{Run: "["})
	require.Error(t, err)
}
