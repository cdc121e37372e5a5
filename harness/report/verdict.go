package report

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Normalizations are the ways a row may declare its Observed is compared
// with its Expected, by Row.Normalize. The empty name, exact equality, is
// the default; keep the set small: every entry is a way for a row to be
// "as expected" while not saying the same thing.
var Normalizations = map[string]func(expected, observed string) bool{
	"": func(e, o string) bool { return e == o },
	// prefix: Observed begins with Expected (an ARN whose session name is
	// random, an error message with a request ID after it).
	"prefix": func(e, o string) bool { return strings.HasPrefix(o, e) },
}

// verdict says whether the row is as expected and, when not, why; action
// is its test's result.
func (r Row) verdict(action string) (bool, string) {
	match, known := Normalizations[r.Normalize]
	switch {
	case action == "fail":
		return false, "its test failed"
	case action == "skip":
		return false, "its test was skipped"
	case action != "pass":
		return false, "its test did not finish"
	case r.Expected == "":
		return false, "the row states no expected outcome"
	case !known:
		return false, fmt.Sprintf("unknown normalisation %q", r.Normalize)
	case !match(r.Expected, r.Observed):
		how := "observed differs from expected"
		if r.Normalize != "" {
			how += " (" + r.Normalize + ")"
		}
		return false, how
	}
	return true, ""
}

// ID is the row's stable, readable identity in the manifest: its suite,
// mechanism and scenario, each slugged, joined by "/".
func (r Row) ID() string {
	return slug(r.Suite) + "/" + slug(r.Mechanism) + "/" + slug(r.Scenario)
}

// slug lowercases s and turns every run of characters other than a-z and
// 0-9 into one "-", trimmed at both ends.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(c)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

// Errors CheckRows and CheckSkips wrap; each names the rows or tests.
var (
	ErrNoRows        = errors.New("no matrix rows: the run proved nothing")
	ErrNotAsExpected = errors.New("matrix rows not as expected")
	ErrDuplicateRows = errors.New("duplicate matrix row ids")
	ErrSkipped       = errors.New("tests skipped")
)

// CheckRows returns why the matrix cannot be trusted: it has no rows, a row
// is not as expected, or two rows share an ID. Nil means every row is as
// expected.
func (r *Result) CheckRows() error {
	if len(r.Rows) == 0 {
		return ErrNoRows
	}
	var errs []error
	var bad []string
	for _, row := range r.Rows {
		if !row.AsExpected {
			bad = append(bad, fmt.Sprintf("%s: %s (expected %q, observed %q; %s)", row.ID(), row.Why, row.Expected, row.Observed, row.Test))
		}
	}
	if len(bad) > 0 {
		errs = append(errs, fmt.Errorf("%w: %d of %d:\n  %s", ErrNotAsExpected, len(bad), len(r.Rows), strings.Join(bad, "\n  ")))
	}
	if dups := r.duplicateIDs(); len(dups) > 0 {
		errs = append(errs, fmt.Errorf("%w:\n  %s", ErrDuplicateRows, strings.Join(dups, "\n  ")))
	}
	return errors.Join(errs...)
}

// duplicateIDs lists each ID more than one row has, with their tests.
func (r *Result) duplicateIDs() []string {
	tests := map[string][]string{}
	for _, row := range r.Rows {
		tests[row.ID()] = append(tests[row.ID()], row.Test)
	}
	var dups []string
	for id, ts := range tests {
		if len(ts) > 1 {
			dups = append(dups, fmt.Sprintf("%s (%s)", id, strings.Join(ts, ", ")))
		}
	}
	sort.Strings(dups)
	return dups
}

// Skipped returns the tests that skipped.
func (r *Result) Skipped() []*Test {
	var out []*Test
	for _, t := range r.Tests {
		if t.Action == "skip" {
			out = append(out, t)
		}
	}
	return out
}

// SkipReason is what a skipped test said last before "--- SKIP": the
// message it gave t.Skip.
func SkipReason(t *Test) string {
	for i := len(t.Output) - 1; i >= 0; i-- {
		l := strings.TrimSpace(t.Output[i])
		if l != "" && !strings.HasPrefix(l, "--- SKIP") && !strings.HasPrefix(l, "=== ") {
			return l
		}
	}
	return "(no reason given)"
}

// CheckSkips writes a loud list of the skipped tests to w, if any, and,
// when skipsFail (CI, where every tool a test needs is installed), returns
// ErrSkipped naming them.
func (r *Result) CheckSkips(w io.Writer, skipsFail bool) error {
	skipped := r.Skipped()
	if len(skipped) == 0 {
		return nil
	}
	lines := make([]string, len(skipped))
	for i, t := range skipped {
		lines[i] = fmt.Sprintf("%s %s: %s", t.Package, t.Name, SkipReason(t))
	}
	consequence := "they did not run: what they check is unchecked here (in CI, CI=true, a skip fails the run)"
	if skipsFail {
		consequence = "CI=true: a skip is a failure"
	}
	fmt.Fprintf(w, "\n!!! %d SKIPPED: %s\n!!!   %s\n\n", len(skipped), consequence, strings.Join(lines, "\n!!!   "))
	if skipsFail {
		return fmt.Errorf("%w (CI=true): %s", ErrSkipped, strings.Join(lines, "; "))
	}
	return nil
}
