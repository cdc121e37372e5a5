// Package report turns the scenario suites' `go test -json` stream into
// what CI and people read: the plain test output, JUnit XML, and the
// conformance matrix (scenario x mechanism, expected vs observed, with the
// reason the emulator gave) as Markdown and HTML.
//
// Scenarios put one row in the matrix by logging RowPrefix followed by a
// Row as JSON (labenv.Row does this).
package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// RowPrefix marks a matrix row in a test's output.
const RowPrefix = "IDLAB-ROW "

// Row is one scenario outcome in the conformance matrix.
type Row struct {
	Suite     string `json:"suite"`
	Scenario  string `json:"scenario"`
	Mechanism string `json:"mechanism"` // IRSA, IRSA webhook, GKE Workload Identity ...
	Expected  string `json:"expected"`  // "allow" or the exact error code
	Observed  string `json:"observed"`
	Reason    string `json:"reason,omitempty"` // the emulator's decision, for refusals
	Test      string `json:"test,omitempty"`   // filled from the event: package/Test/sub
	Passed    bool   `json:"passed"`           // filled from the test's result
}

// Test is one test or subtest's result.
type Test struct {
	Package string
	Name    string
	Action  string // pass, fail or skip
	Elapsed time.Duration
	Output  []string
}

// Result is a whole run.
type Result struct {
	Tests []*Test
	Rows  []Row
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail events (Go 1.24+)
	Test       string
	Elapsed    float64
	Output     string
}

// PackageTest names the synthetic test that carries a package's failure
// when none of its tests failed: a build failure, a panic outside a test,
// a timeout.
const PackageTest = "(package)"

// Read consumes a `go test -json` stream, copying the tests' text output to
// echo (nil for none) as it comes, and returns the results. Lines that are
// not JSON (build errors before test2json starts) are echoed and kept as
// output of a synthetic "build" test that fails. A package that fails while
// none of its tests did (it does not build, or panics or times out outside a
// test) gets a failing PackageTest holding the package's own output.
func Read(r io.Reader, echo io.Writer) (*Result, error) {
	res := &Result{}
	tests := map[string]*Test{}
	pkgOutput := map[string][]string{} // output outside any test, by package
	partial := map[string]string{}     // a test's output line not yet ended
	badRows := map[string]bool{}       // tests that logged a row Read cannot parse
	var failedPkgs []string
	get := func(pkg, name string) *Test {
		k := pkg + "\x00" + name
		t, ok := tests[k]
		if !ok {
			t = &Test{Package: pkg, Name: name}
			tests[k] = t
			res.Tests = append(res.Tests, t)
		}
		return t
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			if echo != nil {
				fmt.Fprintf(echo, "%s\n", line)
			}
			b := get("(build)", "build")
			b.Action = "fail"
			b.Output = append(b.Output, string(line))
			continue
		}
		if ev.Action == "build-output" {
			if echo != nil {
				io.WriteString(echo, ev.Output)
			}
			pkg, _, _ := strings.Cut(ev.ImportPath, " ")
			pkgOutput[pkg] = append(pkgOutput[pkg], ev.Output)
			continue
		}
		if ev.Action == "output" {
			if echo != nil {
				io.WriteString(echo, ev.Output)
			}
			if ev.Test == "" {
				pkgOutput[ev.Package] = append(pkgOutput[ev.Package], ev.Output)
				continue
			}
			t := get(ev.Package, ev.Test)
			t.Output = append(t.Output, ev.Output)
			// test2json cuts long lines into several events; a row is
			// read once its line is whole.
			k := ev.Package + "\x00" + ev.Test
			line := partial[k] + ev.Output
			if !strings.HasSuffix(line, "\n") {
				partial[k] = line
				continue
			}
			delete(partial, k)
			if i := strings.Index(line, RowPrefix); i >= 0 {
				var row Row
				if err := json.Unmarshal([]byte(strings.TrimSpace(line[i+len(RowPrefix):])), &row); err != nil {
					// A row that cannot be read must not vanish from the matrix.
					t.Action, t.Output = "fail", append(t.Output, fmt.Sprintf("report: unreadable matrix row: %v\n", err))
					badRows[k] = true
					continue
				}
				row.Test = ev.Package + "/" + ev.Test
				res.Rows = append(res.Rows, row)
			}
			continue
		}
		if ev.Test == "" && ev.Action == "fail" {
			failedPkgs = append(failedPkgs, ev.Package)
			continue
		}
		if ev.Test == "" || (ev.Action != "pass" && ev.Action != "fail" && ev.Action != "skip") {
			continue
		}
		t := get(ev.Package, ev.Test)
		if !badRows[ev.Package+"\x00"+ev.Test] {
			t.Action = ev.Action
		}
		t.Elapsed = time.Duration(ev.Elapsed * float64(time.Second))
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("read test events: %w", err)
	}
	for _, pkg := range failedPkgs {
		if !slices.ContainsFunc(res.Tests, func(t *Test) bool { return t.Package == pkg && t.Action == "fail" }) {
			t := get(pkg, PackageTest)
			t.Action, t.Output = "fail", pkgOutput[pkg]
		}
	}
	for i := range res.Rows {
		res.Rows[i].Passed = tests[pkgOf(res.Rows[i].Test)+"\x00"+nameOf(res.Rows[i].Test)].Action == "pass"
	}
	sort.SliceStable(res.Rows, func(i, j int) bool {
		a, b := res.Rows[i], res.Rows[j]
		if a.Suite != b.Suite {
			return a.Suite < b.Suite
		}
		return a.Mechanism < b.Mechanism
	})
	return res, nil
}

// pkgOf and nameOf split Row.Test (package/Test/sub) at the test name.
func pkgOf(test string) string {
	if i := strings.Index(test, "/Test"); i >= 0 {
		return test[:i]
	}
	return ""
}

func nameOf(test string) string {
	if i := strings.Index(test, "/Test"); i >= 0 {
		return test[i+1:]
	}
	return test
}

// Failed reports whether any test failed.
func (r *Result) Failed() bool {
	for _, t := range r.Tests {
		if t.Action == "fail" {
			return true
		}
	}
	return false
}
