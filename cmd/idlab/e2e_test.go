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
	"github.com/idlab/idlab/harness/suites"
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

func TestNarrow(t *testing.T) {
	man, err := report.ParseManifest([]byte(`suites:
- package: p/fast
  rows:
  - {id: s/m/a, test: TestA}
- package: p/mixed
  rows:
  - {id: s/m/b, test: TestB}
  - {id: s/m/c, test: TestC/x, tier: slow}
- package: p/slow
  rows:
  - {id: s/m/d, test: TestD, tier: slow}
`))
	require.NoError(t, err)
	all := []string{"p/fast", "p/mixed", "p/slow"}
	tests := []struct {
		name, tier, shard string
		noManifest        bool
		wantPkgs          []string
		wantSkip          map[string]string
		wantFull          bool
		wantErr           string
	}{
		{name: "full", tier: "full", wantPkgs: all, wantFull: true},
		{name: "quick", tier: "quick", wantPkgs: []string{"p/fast", "p/mixed"}, wantSkip: map[string]string{"p/mixed": "^(TestC)$"}, wantFull: true},
		{name: "quick without a manifest", tier: "quick", noManifest: true, wantErr: "needs the manifest"},
		{name: "unknown tier", tier: "fast", wantErr: `--tier "fast"`},
		{name: "shard 1/2", tier: "full", shard: "1/2", wantPkgs: []string{"p/fast", "p/slow"}},
		{name: "shard 2/2", tier: "full", shard: "2/2", wantPkgs: []string{"p/mixed"}},
		{name: "quick shard 2/2", tier: "quick", shard: "2/2", wantPkgs: []string{"p/mixed"}, wantSkip: map[string]string{"p/mixed": "^(TestC)$"}},
		{name: "empty shard", tier: "full", shard: "4/4", wantErr: "holds none"},
		{name: "shard out of range", tier: "full", shard: "3/2", wantErr: "want K/N"},
		{name: "shard not K/N", tier: "full", shard: "1/2x", wantErr: `--shard "1/2x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := man
			if tc.noManifest {
				m = nil
			}
			pkgs, scope, opts, err := narrow(m, all, report.Scope{Packages: all, Full: true}, suites.Options{}, tc.tier, tc.shard, func(string, ...any) {})
			if tc.wantErr != "" {
				require.ErrorIs(t, err, errUsage)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantPkgs, pkgs)
			require.Equal(t, tc.wantPkgs, scope.Packages)
			require.Equal(t, tc.wantFull, scope.Full, "a shard is never a full run alone")
			require.Equal(t, tc.tier == "quick", scope.Quick)
			if tc.wantSkip == nil {
				require.Empty(t, opts.Skip)
			} else {
				require.Equal(t, tc.wantSkip, opts.Skip)
			}
		})
	}
}
