// Package report turns the scenario suites' `go test -json` stream into
// what CI and people read: the plain test output, JUnit XML, and the
// conformance matrix (scenario x mechanism, expected vs observed, with the
// reason the emulator gave) as Markdown and HTML.
//
// Scenarios put one row in the matrix by logging RowPrefix followed by a
// Row as JSON (labenv.Row does this). A row is "as expected" only when its
// test passed and its Observed equals its Expected (after the row's
// normalisation); Result.CheckRows and Manifest.Check make a run that proves
// less than it claims fail.
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

// Row tiers: a quick row is observed in seconds, a slow one waits minutes
// (token rotation by the kubelet, session expiry). The quick tier is every
// row that is not slow.
const (
	TierQuick = ""
	TierSlow  = "slow"
)

// validTier reports whether t names a tier.
func validTier(t string) bool { return t == TierQuick || t == TierSlow }

// Row is one scenario outcome in the conformance matrix.
type Row struct {
	Suite     string `json:"suite"`
	Scenario  string `json:"scenario"`
	Mechanism string `json:"mechanism"` // IRSA, IRSA webhook, GKE Workload Identity ...
	Expected  string `json:"expected"`  // "allow" or the exact error code
	Observed  string `json:"observed"`  // the same form as Expected
	// Normalize names how Observed is compared with Expected: "" is exact
	// equality, else one of Normalizations.
	Normalize string `json:"normalize,omitempty"`
	Reason    string `json:"reason,omitempty"` // the emulator's decision, for refusals
	// Tier is how long the row takes to observe: "" (TierQuick) for
	// seconds, TierSlow for rows that wait minutes for the kubelet or a
	// clock (make e2e-quick leaves those out). The manifest records it.
	Tier   string `json:"tier,omitempty"`
	Test   string `json:"test,omitempty"` // filled from the event: package/Test/sub
	Passed bool   `json:"passed"`         // filled from the test's result
	// AsExpected and Why are the row's verdict, filled by Read: Passed and
	// Observed matching Expected; Why says what is wrong when it is not.
	AsExpected bool   `json:"as_expected"`
	Why        string `json:"why,omitempty"`
}

// Test is one test or subtest's result.
type Test struct {
	Package string
	Name    string
	Action  string // pass, fail or skip
	Elapsed time.Duration
	Output  []string
	// BadRows counts the matrix rows the test logged that Read could not
	// parse (the test fails).
	BadRows int
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

// BuildPackage is the package of the synthetic "build" test that holds the
// lines of a stream that are not test2json events.
const BuildPackage = "(build)"

// PackageTest names the synthetic test that carries a package's failure
// when none of its tests failed: a build failure, a panic outside a test,
// a timeout.
const PackageTest = "(package)"

// Read consumes a `go test -json` stream, passing the tests' text output to
// echo (nil for none) as it comes, and returns the results with each row's
// verdict. Lines that are not JSON (build errors before test2json starts)
// are echoed and kept as output of a synthetic "build" test that fails. A
// package that fails while none of its tests did (it does not build, or
// panics or times out outside a test) gets a failing PackageTest holding
// the package's own output.
func Read(r io.Reader, echo Echo) (*Result, error) {
	if echo == nil {
		echo = Plain(nil)
	}
	res := &Result{}
	tests := map[string]*Test{}
	pkgOutput := map[string][]string{} // output outside any test, by package
	partial := map[string]string{}     // a test's output line not yet ended
	var rowTests []*Test               // the test of each row in res.Rows
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
			echo.Output("", "", string(line)+"\n")
			b := get(BuildPackage, "build")
			b.Action = "fail"
			b.Output = append(b.Output, string(line))
			continue
		}
		if ev.Action == "build-output" {
			pkg, _, _ := strings.Cut(ev.ImportPath, " ")
			echo.Output(pkg, "", ev.Output)
			pkgOutput[pkg] = append(pkgOutput[pkg], ev.Output)
			continue
		}
		if ev.Action == "output" {
			echo.Output(ev.Package, ev.Test, ev.Output)
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
			if row, ok, err := parseRow(line); ok && err != nil {
				// A row that cannot be read must not vanish from the matrix.
				t.Action, t.Output = "fail", append(t.Output, fmt.Sprintf("report: unreadable matrix row: %v\n", err))
				t.BadRows++
			} else if ok {
				row.Test = ev.Package + "/" + ev.Test
				res.Rows = append(res.Rows, row)
				rowTests = append(rowTests, t)
			}
			continue
		}
		if ev.Test == "" && (ev.Action == "pass" || ev.Action == "fail") {
			if ev.Action == "fail" {
				failedPkgs = append(failedPkgs, ev.Package)
			}
			echo.Done(ev.Package, "", ev.Action)
			continue
		}
		if ev.Test == "" || (ev.Action != "pass" && ev.Action != "fail" && ev.Action != "skip") {
			continue
		}
		t := get(ev.Package, ev.Test)
		if t.BadRows == 0 {
			t.Action = ev.Action
		}
		t.Elapsed = time.Duration(ev.Elapsed * float64(time.Second))
		echo.Done(ev.Package, ev.Test, t.Action)
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
		row, action := &res.Rows[i], rowTests[i].Action
		row.Passed = action == "pass"
		row.AsExpected, row.Why = row.verdict(action)
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

// parseRow reads the matrix row a test output line carries; ok is false
// when the line has none.
func parseRow(line string) (row Row, ok bool, err error) {
	i := strings.Index(line, RowPrefix)
	if i < 0 {
		return Row{}, false, nil
	}
	err = json.Unmarshal([]byte(strings.TrimSpace(line[i+len(RowPrefix):])), &row)
	if err == nil && !validTier(row.Tier) {
		err = fmt.Errorf("row tier %q: want %q or none", row.Tier, TierSlow)
	}
	return row, true, err
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
