package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/idlab/idlab/harness/report"
	"github.com/idlab/idlab/internal/atomicfile"
)

func reportCommand() command {
	return command{
		name:    "report",
		summary: "read `go test -json` of the scenario suites on stdin: echo it, write junit.xml and the conformance matrix (md, html), check it (and the manifest); or write the manifest",
		run:     runReport,
		about: `Reads the go test -json output of the scenario suites on stdin, echoes
it as go test would print it, and writes junit.xml, matrix.md and
matrix.html to --out. Exits 1 when a test failed or, with --manifest, when
the run does not match the manifest. --write-manifest writes the manifest
of the run instead of a report.

report merge reads the e2e.json of each shard of a run (idlab e2e --shard
K/N) and writes one report of them all, checked against the manifest as
a full run: every listed suite must be in one of the shards, once.`,
		usage: "report [flags] < e2e.json\n  idlab report merge [flags] E2E.JSON...",
		examples: []example{
			{"go test -json -tags e2e ./scenarios/smoke | idlab report --out artifacts", "a report of one suite run by hand"},
			{"idlab report merge --manifest scenarios/manifest.yaml shard1/e2e.json shard2/e2e.json", "one matrix of the shards of idlab e2e --shard K/N, checked as one full run"},
		},
	}
}

// errTestsFailed makes `idlab report` exit non-zero when a test failed, so
// `go test -json | idlab report` fails as the tests did.
var errTestsFailed = errors.New("scenario tests failed")

func runReport(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) > 0 && args[0] == "merge" {
		return runReportMerge(ctx, env, args[1:])
	}
	fs := env.flagSet("report")
	out := fs.String("out", "artifacts", "directory for junit.xml, matrix.md and matrix.html")
	title := fs.String("title", "idlab conformance matrix", "title of the matrix")
	manifest := fs.String("manifest", "", "check the run against this manifest (scenarios/manifest.yaml): the rows of the packages in the stream")
	runRE := fs.String("run", "", "with --manifest: the go test -run pattern the run used; only the rows of the tests it selects are checked")
	writeManifest := fs.String("write-manifest", "", "write the manifest of the run (every package and row) to this file instead of a report")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if *writeManifest != "" {
		return writeManifestFile(env, *writeManifest)
	}
	var man *report.Manifest
	if *manifest != "" {
		var err error
		if man, err = report.LoadManifest(*manifest); err != nil {
			return err
		}
	}
	start := time.Now()
	res, err := report.Read(env.stdin, report.Plain(env.stdout))
	if err != nil {
		return err
	}
	wall := time.Since(start)
	if err := res.WriteFiles(*out, *title, wall); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "report: %d tests, %d matrix rows; %s\n", len(res.Tests), len(res.Rows),
		filepath.Join(*out, "matrix.md"))
	return verify(env.stdout, res, man, report.Scope{Packages: packages(res), Run: *runRE}, ciMode())
}

// writeManifestFile makes the manifest of the run on stdin (refused unless
// every test passed) and writes it to path.
func writeManifestFile(env *cliEnv, path string) error {
	res, err := report.Read(env.stdin, nil)
	if err != nil {
		return err
	}
	m, err := report.ManifestFrom(res)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := m.Write(&b); err != nil {
		return err
	}
	if err := atomicfile.Write(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(env.stdout, "report: manifest of %d suites, %d rows written to %s\n", len(m.Suites), m.Rows(), path)
	return nil
}

// verify is the gate on a run, beyond its tests' results: a failed test,
// no rows, a row not as expected or twice, a skipped test when ci (listed
// loudly to w either way), and, with a manifest, a row or suite missing,
// skipped, unreadable or unlisted within scope. It prints the manifest's
// coverage and returns every problem.
func verify(w io.Writer, res *report.Result, man *report.Manifest, scope report.Scope, ci bool) error {
	var errs []error
	if res.Failed() {
		errs = append(errs, errTestsFailed)
	}
	rowsErr := res.CheckRows()
	if errors.Is(rowsErr, report.ErrNoRows) && scope.Run != "" {
		rowsErr = fmt.Errorf("%w (-run %q selected no row)", rowsErr, scope.Run)
	}
	errs = append(errs, rowsErr, res.CheckSkips(w, ci))
	if man != nil {
		cov, err := man.Check(res, scope)
		fmt.Fprintf(w, "manifest: %s\n", cov)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ciMode reports whether this is CI (CI=true), where every tool a test
// needs is installed and a skip is a failure.
func ciMode() bool { return os.Getenv("CI") == "true" }

// packages lists the packages that ran tests in res.
func packages(res *report.Result) []string {
	var pkgs []string
	seen := map[string]bool{}
	for _, t := range res.Tests {
		if !seen[t.Package] && t.Package != report.BuildPackage {
			seen[t.Package] = true
			pkgs = append(pkgs, t.Package)
		}
	}
	return pkgs
}

// runReportMerge joins the e2e.json event streams of a sharded run into
// one report and checks it as the full run the shards add up to.
func runReportMerge(_ context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("report merge")
	out := fs.String("out", "artifacts", "directory for junit.xml, matrix.md and matrix.html of the merged run")
	title := fs.String("title", "idlab conformance matrix", "title of the matrix")
	manifest := fs.String("manifest", "scenarios/manifest.yaml", "the expected suites and rows; the merged run must hold them all; empty: no check")
	quick := fs.Bool("quick", false, "the shards ran the quick tier (idlab e2e --tier quick): slow rows are not expected")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: report merge needs the shards' e2e.json files", errUsage)
	}
	var streams []io.Reader
	// The shards ran side by side: the merged run's wall time is at least
	// its longest top-level test (suites run in parallel within a shard).
	var wall time.Duration
	seen := map[string]string{} // package -> the file it came from
	for _, path := range fs.Args() {
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		part, err := report.Read(bytes.NewReader(raw), nil)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, t := range part.Tests {
			if !strings.Contains(t.Name, "/") {
				wall = max(wall, t.Elapsed)
			}
		}
		for _, p := range packages(part) {
			if other, dup := seen[p]; dup {
				return fmt.Errorf("suite %s is in both %s and %s: not shards of one run", p, other, path)
			}
			seen[p] = path
		}
		if len(raw) > 0 && raw[len(raw)-1] != '\n' {
			raw = append(raw, '\n') // the next shard's first event starts a line
		}
		streams = append(streams, bytes.NewReader(raw))
	}
	var man *report.Manifest
	if *manifest != "" {
		var err error
		if man, err = report.LoadManifest(*manifest); err != nil {
			return err
		}
	}
	res, err := report.Read(io.MultiReader(streams...), nil)
	if err != nil {
		return err
	}
	if err := res.WriteFiles(*out, *title, wall); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "report merge: %d shards, %d tests, %d matrix rows; %s\n", fs.NArg(), len(res.Tests), len(res.Rows),
		filepath.Join(*out, "matrix.md"))
	return verify(env.stdout, res, man, report.Scope{Packages: packages(res), Full: true, Quick: *quick}, ciMode())
}
