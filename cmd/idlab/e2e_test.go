package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/report"
)

func TestSummarizeEndsWithTheInnermostFailures(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "matrix.md"), []byte("| the matrix |"), 0o644))
	var long []string
	for i := range 40 {
		long = append(long, fmt.Sprintf("line %d\n", i))
	}
	res := &report.Result{
		Tests: []*report.Test{
			{Package: "p", Name: "TestA", Action: "fail", Output: []string{"parent output\n"}},
			{Package: "p", Name: "TestA/denied", Action: "fail", Output: long},
			{Package: "p", Name: "TestB", Action: "pass", Output: []string{"fine\n"}},
		},
		Rows: []report.Row{{Passed: true, AsExpected: true}, {Passed: true, AsExpected: false}},
	}
	var out bytes.Buffer
	summarize(&out, res, dir, 90*time.Second)
	s := out.String()
	require.Contains(t, s, "2 matrix rows, 1 as expected, 1 not; 3 tests; wall time 1m30s")
	require.Less(t, strings.Index(s, "| the matrix |"), strings.Index(s, "--- FAIL: p TestA/denied"), "failures come last")
	require.Contains(t, s, "line 39")
	require.NotContains(t, s, "line 14\n", "only the last lines of a long output")
	require.NotContains(t, s, "parent output", "a parent whose subtest failed is not repeated")
	require.NotContains(t, s, "fine")
}

func TestPreflight(t *testing.T) {
	man, err := report.ParseManifest([]byte("suites:\n- package: p\n  rows:\n  - {id: a, test: TestA/a}\n  - {id: b, test: TestB}\n"))
	require.NoError(t, err)
	var said []string
	say := func(format string, a ...any) { said = append(said, fmt.Sprintf(format, a...)) }

	require.NoError(t, preflight(man, report.Scope{Packages: []string{"p"}, Full: true}, "m.yaml", say))
	require.NoError(t, preflight(man, report.Scope{Packages: []string{"p"}, Run: "TestB"}, "m.yaml", say))
	require.Equal(t, []string{"full run: will check 2 of 2 manifest rows", "subset run: will check 1 of 2 manifest rows"}, said)

	err = preflight(man, report.Scope{Packages: []string{"p"}, Run: "NOMATCH"}, "m.yaml", say)
	require.ErrorIs(t, err, report.ErrNoRows)
	require.ErrorContains(t, err, `-run "NOMATCH" in 1 packages selects none of the 2 rows of m.yaml`)
	require.ErrorIs(t, preflight(man, report.Scope{Packages: []string{"other"}}, "m.yaml", say), report.ErrNoRows)
	require.Error(t, preflight(man, report.Scope{Packages: []string{"p"}, Run: "("}, "m.yaml", say))
	require.NoError(t, preflight(nil, report.Scope{Run: "NOMATCH"}, "", say), "no manifest, no preflight")
}
