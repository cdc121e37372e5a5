package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/report"
)

const reportPkg = "github.com/idlab/idlab/scenarios/x"

// events is a `go test -json` stream of one passing test per row.
func events(t *testing.T, rows ...report.Row) string {
	t.Helper()
	var b strings.Builder
	for _, r := range rows {
		raw, err := json.Marshal(r)
		require.NoError(t, err)
		test := "TestX/" + r.Scenario
		for _, ev := range []map[string]string{
			{"Action": "output", "Package": reportPkg, "Test": test, "Output": "    x_test.go:1: " + report.RowPrefix + string(raw) + "\n"},
			{"Action": "pass", "Package": reportPkg, "Test": test},
		} {
			line, err := json.Marshal(ev)
			require.NoError(t, err)
			b.Write(append(line, '\n'))
		}
	}
	return b.String()
}

func runReportWith(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	env := &cliEnv{stdin: strings.NewReader(stdin), stdout: &out, stderr: &out}
	err := runReport(context.Background(), env, append([]string{"--out", t.TempDir()}, args...))
	return out.String(), err
}

func TestReportGate(t *testing.T) {
	t.Setenv("CI", "")
	own := report.Row{Suite: "x", Mechanism: "IRSA", Scenario: "own", Expected: "allow", Observed: "allow"}
	lie := report.Row{Suite: "x", Mechanism: "IRSA", Scenario: "other", Expected: "AccessDenied", Observed: "allow"}
	skipped := `{"Action":"output","Package":"` + reportPkg + `","Test":"TestTool","Output":"    t.go:1: no tool\n"}` + "\n" +
		`{"Action":"skip","Package":"` + reportPkg + `","Test":"TestTool"}` + "\n"
	tests := []struct {
		name    string
		stdin   string
		ci      bool
		wantErr []error
		wantOut string
	}{
		{name: "every row as expected", stdin: events(t, own), wantOut: "report: 1 tests, 1 matrix rows"},
		{name: "empty stream", stdin: "", wantErr: []error{report.ErrNoRows}},
		{name: "a passing test whose row is not as expected", stdin: events(t, own, lie), wantErr: []error{report.ErrNotAsExpected}},
		{name: "duplicate row", stdin: events(t, own, own), wantErr: []error{report.ErrDuplicateRows}},
		{name: "skip outside CI: loud, not a failure", stdin: events(t, own) + skipped, wantOut: "!!! 1 SKIPPED"},
		{name: "skip in CI: a failure", stdin: events(t, own) + skipped, ci: true, wantErr: []error{report.ErrSkipped}},
		{name: "failed test", stdin: strings.Replace(events(t, own), `"Action":"pass"`, `"Action":"fail"`, 1),
			wantErr: []error{errTestsFailed, report.ErrNotAsExpected}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ci {
				t.Setenv("CI", "true")
			}
			out, err := runReportWith(t, tc.stdin)
			require.Contains(t, out, tc.wantOut)
			if len(tc.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			for _, w := range tc.wantErr {
				require.ErrorIs(t, err, w)
			}
		})
	}
}

func TestReportNoRowsNamesTheRunPattern(t *testing.T) {
	err := verify(&bytes.Buffer{}, &report.Result{}, nil, report.Scope{Run: "NOMATCH"}, false)
	require.ErrorIs(t, err, report.ErrNoRows)
	require.ErrorContains(t, err, `-run "NOMATCH" selected no row`)
}

func TestReportManifestRoundTrip(t *testing.T) {
	t.Setenv("CI", "")
	own := report.Row{Suite: "x", Mechanism: "IRSA", Scenario: "own", Expected: "allow", Observed: "allow"}
	other := report.Row{Suite: "x", Mechanism: "IRSA", Scenario: "other", Expected: "AccessDenied", Observed: "AccessDenied"}
	path := filepath.Join(t.TempDir(), "manifest.yaml")

	out, err := runReportWith(t, events(t, own, other), "--write-manifest", path)
	require.NoError(t, err)
	require.Contains(t, out, "manifest of 1 suites, 2 rows written to "+path)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(raw), "id: x/irsa/other\n")

	out, err = runReportWith(t, events(t, own, other), "--manifest", path)
	require.NoError(t, err)
	require.Contains(t, out, "manifest: checked all 2 manifest rows")

	_, err = runReportWith(t, events(t, own), "--manifest", path)
	require.ErrorIs(t, err, report.ErrManifest)
	require.ErrorContains(t, err, "row missing: x/irsa/other")

	out, err = runReportWith(t, events(t, own), "--manifest", path, "--run", "TestX/own")
	require.NoError(t, err)
	require.Contains(t, out, "manifest: subset run: checked 1 of 2 manifest rows")

	_, err = runReportWith(t, strings.Replace(events(t, own), `"Action":"pass"`, `"Action":"fail"`, 1), "--write-manifest", path)
	require.ErrorContains(t, err, "did not all pass")
}

// TestReportMerge: the shards' e2e.json merge into the matrix of the whole
// run, checked as a full run: a missing shard or a suite in two shards is
// refused.
func TestReportMerge(t *testing.T) {
	t.Setenv("CI", "")
	inPkg := func(pkg, stream string) string { return strings.ReplaceAll(stream, reportPkg, pkg) }
	own := report.Row{Suite: "x", Mechanism: "IRSA", Scenario: "own", Expected: "allow", Observed: "allow"}
	other := report.Row{Suite: "y", Mechanism: "GKE", Scenario: "other", Expected: "PERMISSION_DENIED", Observed: "PERMISSION_DENIED"}
	shardA, shardB := inPkg(reportPkg+"a", events(t, own)), inPkg(reportPkg+"b", events(t, other))
	dir := t.TempDir()
	manifest := filepath.Join(dir, "manifest.yaml")
	fullOut := filepath.Join(dir, "full")
	_, err := runReportWith(t, shardA+shardB, "--write-manifest", manifest)
	require.NoError(t, err)
	_, err = runReportWith(t, shardA+shardB, "--manifest", manifest, "--out", fullOut)
	require.NoError(t, err)

	files := map[string]string{}
	for name, stream := range map[string]string{"a.json": shardA, "b.json": shardB} {
		files[name] = filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(files[name], []byte(stream), 0o644))
	}
	merged := filepath.Join(dir, "merged")
	var out bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &out}
	require.NoError(t, runReport(context.Background(), env, []string{"merge", "--out", merged, "--manifest", manifest, files["a.json"], files["b.json"]}), out.String())
	require.Contains(t, out.String(), "report merge: 2 shards, 2 tests, 2 matrix rows")
	require.Contains(t, out.String(), "manifest: checked all 2 manifest rows")
	want, err := os.ReadFile(filepath.Join(fullOut, "matrix.md"))
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(merged, "matrix.md"))
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "the merged matrix is the unsharded one")

	err = runReport(context.Background(), env, []string{"merge", "--out", merged, "--manifest", manifest, files["a.json"]})
	require.ErrorIs(t, err, report.ErrManifest)
	require.ErrorContains(t, err, "listed suite did not run: "+reportPkg+"b")

	err = runReport(context.Background(), env, []string{"merge", "--out", merged, files["a.json"], files["a.json"]})
	require.ErrorContains(t, err, "not shards of one run")

	err = runReport(context.Background(), env, []string{"merge"})
	require.ErrorIs(t, err, errUsage)
}
