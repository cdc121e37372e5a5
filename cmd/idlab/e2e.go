package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/report"
	"github.com/idlab/idlab/harness/suites"
)

func e2eCommand() command {
	return command{
		name:    "e2e",
		summary: "bring the lab up, run the scenario suites in parallel, write the report (go test output, junit.xml, matrix md/html), tear down",
		run:     runE2E,
		usage:   "e2e [flags] [suite packages]",
		about: `The conformance run: brings the lab up as idlab up does (reusing healthy
clusters), runs the scenario suites in parallel with go test -json (from a
checkout: the suites are Go tests), writes e2e.log, e2e.json, junit.xml,
matrix.md and matrix.html to --out, checks the run against the manifest
(every row there, each as expected), exports the lab's logs on failure
and tears the lab down unless --keep. Exit 1 means rows not as expected
(the matrix says which), 3 that the lab did not come up or tear down.
With CI=true a skipped test is a failure.`,
		env: append([]envVar{
			{"IDLAB_KEEP", "1: leave the lab up afterwards (--keep)"},
			{"IDLAB_TIER", "full (default) or quick: without the slow rows (--tier)"},
			{"IDLAB_SHARD", "K/N: only the K-th of N shards of the suites (--shard)"},
			{"CI", "true: a skipped test fails the run"},
			{"GO", "the go command that runs the suites (--go)"},
		}, labEnv...),
		examples: []example{
			{"idlab e2e --probe bin/probe --pyclient --toolclient", "what make e2e runs"},
			{"idlab e2e --keep --run 'TestKube2iam' ./scenarios/kube2iam", "one suite, the lab left up to look at"},
			{"idlab e2e --keep --probe bin/probe --pyclient ./examples/my-app-bug/...", "a module of its own (its go.mod), run from its directory"},
			{"idlab e2e --tier quick --probe bin/probe --pyclient --toolclient", "what make e2e-quick runs: every row but the slow ones"},
			{"idlab e2e --shard 1/2 --out shard1 ...; idlab report merge shard1/e2e.json shard2/e2e.json", "the suites split over two machines, one matrix"},
		},
	}
}

// e2eTail is how many lines of a failed test's output the summary repeats.
const e2eTail = 25

func runE2E(ctx context.Context, env *cliEnv, args []string) (err error) {
	lo, err := labFlagSet("e2e", env)
	if err != nil {
		return err
	}
	fs := lo.fs
	out := fs.String("out", "artifacts", "directory for e2e.json, e2e.log, junit.xml, matrix.md, matrix.html and, on failure, logs/")
	keep := fs.Bool("keep", os.Getenv("IDLAB_KEEP") == "1", "leave the lab up afterwards (IDLAB_KEEP=1)")
	runRE := fs.String("run", "", "only tests matching this regexp (go test -run)")
	timeout := fs.Duration("timeout", 40*time.Minute, "timeout of each suite")
	goCmd := fs.String("go", envOr("GO", "go"), "go command that runs the suites ($GO)")
	tier := fs.String("tier", envOr("IDLAB_TIER", "full"), "full: every row; quick: without the slow tier (rows that wait minutes for the kubelet or a clock), as the manifest marks them ($IDLAB_TIER)")
	shard := fs.String("shard", os.Getenv("IDLAB_SHARD"), "K/N: run only the K-th of N shards of the suites (idlab report merge joins the shards' e2e.json) ($IDLAB_SHARD)")
	manifestPath := fs.String("manifest", "scenarios/manifest.yaml", "the expected suites and rows; the run must match it (a subset: within its scope); empty: none, for running rows not yet listed")
	if err := parse(fs, args); err != nil {
		return err
	}
	labCfg, err := lo.config()
	if err != nil {
		return err
	}
	cfg := &labCfg
	patterns := fs.Args() // default suites.DefaultPatterns
	var man *report.Manifest
	if *manifestPath != "" {
		if man, err = report.LoadManifest(*manifestPath); err != nil {
			return err
		}
	}
	start := time.Now()
	say := func(format string, a ...any) {
		fmt.Fprintf(env.stderr, "e2e: [%s] "+format+"\n", append([]any{time.Since(start).Round(time.Second)}, a...)...)
	}
	stateDir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return err
	}
	opts := suites.Options{Go: *goCmd, Patterns: patterns, Run: *runRE, Timeout: *timeout, Progress: env.stderr,
		Env: append(os.Environ(), "IDLAB_STATE_DIR="+stateDir)}
	pkgs, err := suites.List(ctx, opts)
	if err != nil {
		return err
	}
	// A default run claims the whole manifest; --run or packages, a part,
	// which must hold rows: a run that checks nothing proves nothing.
	scope := report.Scope{Packages: pkgs, Run: *runRE, Full: *runRE == "" && len(patterns) == 0}
	if pkgs, scope, opts, err = narrow(man, pkgs, scope, opts, *tier, *shard, say); err != nil {
		return err
	}
	if err := preflight(man, scope, *manifestPath, say); err != nil {
		return err
	}
	// The suites' test binaries are compiled while the lab comes up, in one
	// go command per module, rather than by each suite's go test while the
	// others' pods run (suites.Build says why). Up's waits have deadlines
	// of minutes, which a compile beside it does not threaten; the suites
	// start only once both are done.
	binDir, err := os.MkdirTemp("", "idlab-suites-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	lab, err := harness.New(*cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			say("failed: exporting the lab's logs to %s", filepath.Join(*out, "logs"))
			if lerr := lab.ExportLogs(context.WithoutCancel(ctx), filepath.Join(*out, "logs")); lerr != nil {
				say("log export: %v", lerr)
			}
		}
		if *keep {
			say("--keep: the lab stays up (idlab down removes it)")
			return
		}
		say("tearing the lab down")
		if derr := lab.Down(context.WithoutCancel(ctx)); derr != nil {
			err = errors.Join(err, fmt.Errorf("%w: down: %w", errLab, derr))
		}
	}()

	buildCtx, stopBuild := context.WithCancel(ctx)
	defer stopBuild()
	type built struct {
		bins map[string]suites.Binary
		err  error
		took time.Duration
	}
	compiled := make(chan built, 1)
	say("compiling %d suites' test binaries while the lab comes up", len(pkgs))
	go func() {
		t0 := time.Now()
		bins, err := suites.Build(buildCtx, opts, pkgs, binDir)
		compiled <- built{bins, err, time.Since(t0)}
	}()
	say("lab up")
	if _, err := lab.Up(ctx); err != nil {
		stopBuild()
		<-compiled
		return fmt.Errorf("%w: %w", errLab, err)
	}
	b := <-compiled
	if b.err != nil {
		return b.err
	}
	opts.Binaries = b.bins
	say("compiled %d of %d suites' test binaries in %s (a suite that does not build runs under go test, which says why)",
		len(opts.Binaries), len(pkgs), b.took.Round(time.Second))
	before, herr := lab.SystemHealth(ctx)
	if herr != nil {
		say("system pods and control-plane restart counts (before): %v", herr)
	}
	res, runErr := runSuites(ctx, opts, pkgs, *out)
	after, herr := lab.SystemHealth(ctx)
	if herr != nil {
		say("system pods and control-plane restart counts (after): %v", herr)
	}
	restarts := controlPlaneChanges(before.ControlPlane, after.ControlPlane, say)
	health := systemChanges(before, after, say)
	if res == nil {
		return runErr
	}
	wall := time.Since(start)
	if err := res.WriteFiles(*out, "idlab conformance matrix", wall); err != nil {
		return errors.Join(runErr, err)
	}
	summarize(env.stdout, res, *out, wall)
	for _, line := range restarts {
		fmt.Fprintf(env.stdout, "e2e: during the suites %s: a failure above may be this, not the scenario\n", line)
	}
	if err := errors.Join(runErr, verify(env.stdout, res, man, scope, ciMode())); err != nil {
		// Last, where CI's tail keeps it: what the lab's own pods did
		// while the suites ran.
		for _, line := range health {
			fmt.Fprintf(env.stdout, "e2e: system pods during the suites: %s\n", line)
		}
		return fmt.Errorf("%w: %w", errRows, err)
	}
	return nil
}

// systemChanges says how many things changed among the lab's system pods
// while the suites ran (SystemHealth.Since) and returns them, for a failed
// run's tail. Some are the suites' own doing (gkenotready stops the
// metadata server, faults kills the agent), so a passing run only counts.
func systemChanges(before, after harness.SystemHealth, say func(string, ...any)) []string {
	lines := after.Since(before)
	say("system pods: %d changes and Warning events during the suites (listed at the end of a failed run)", len(lines))
	return lines
}

// narrow applies --tier and --shard to the suites: the quick tier drops the
// suites of slow rows and skips the slow tests of the others (as the
// manifest marks them); a shard keeps every N-th suite and is never a full
// run on its own (idlab report merge of all shards is).
func narrow(man *report.Manifest, pkgs []string, scope report.Scope, opts suites.Options, tier, shard string,
	say func(string, ...any)) ([]string, report.Scope, suites.Options, error) {
	switch tier {
	case "full":
	case "quick":
		if man == nil {
			return nil, scope, opts, fmt.Errorf("%w: --tier quick needs the manifest, which marks the slow rows", errUsage)
		}
		plan, err := man.Quick()
		if err != nil {
			return nil, scope, opts, err
		}
		pkgs = slices.DeleteFunc(slices.Clone(pkgs), func(p string) bool { return slices.Contains(plan.Drop, p) })
		opts.Skip = plan.Skip
		scope.Packages, scope.Quick = pkgs, true
		say("quick tier: without the slow suites %v and tests %v", plan.Drop, plan.Skip)
	default:
		return nil, scope, opts, fmt.Errorf("%w: --tier %q: want full or quick", errUsage, tier)
	}
	if shard != "" {
		var k, n int
		if _, err := fmt.Sscanf(shard, "%d/%d", &k, &n); err != nil || fmt.Sprintf("%d/%d", k, n) != shard {
			return nil, scope, opts, fmt.Errorf("%w: --shard %q: want K/N, e.g. 1/2", errUsage, shard)
		}
		part, err := report.Shard(pkgs, k, n)
		if err != nil {
			return nil, scope, opts, fmt.Errorf("%w: --%w", errUsage, err)
		}
		if len(part) == 0 {
			return nil, scope, opts, fmt.Errorf("%w: shard %s of %d suites holds none", errUsage, shard, len(pkgs))
		}
		pkgs, scope.Packages, scope.Full = part, part, false
		say("shard %s: %d of the suites: %s", shard, len(part), strings.Join(part, ", "))
	}
	return pkgs, scope, opts, nil
}

// controlPlaneChanges says which control-plane containers restarted while
// the suites ran: a kube-apiserver restart under load explains failures
// that no scenario is about, and CI's tail should say so.
func controlPlaneChanges(before, after harness.Restarts, say func(string, ...any)) []string {
	lines := after.Since(before)
	if len(lines) == 0 {
		say("control planes: no restarts during the suites")
	}
	for _, l := range lines {
		say("control plane: %s", l)
	}
	return lines
}

// preflight says, before the lab comes up, how much of the manifest the run
// will check, and refuses a run that would check no row (--run NOMATCH).
func preflight(man *report.Manifest, scope report.Scope, path string, say func(string, ...any)) error {
	if man == nil {
		say("no manifest (--manifest \"\"): the rows are not checked against one")
		return nil
	}
	cov, err := man.Select(scope)
	if err != nil {
		return err
	}
	if cov.Checked == 0 {
		return fmt.Errorf("%w: -run %q in %d packages selects none of the %d rows of %s", report.ErrNoRows, scope.Run, len(scope.Packages), cov.Total, path)
	}
	kind := "full run"
	if cov.Subset() {
		kind = "subset run"
	}
	say("%s: will check %d of %d manifest rows", kind, cov.Checked, cov.Total)
	return nil
}

// runSuites runs the suites, keeping the raw events in dir/e2e.json and the
// plain output in dir/e2e.log, and reads the report from the same stream.
func runSuites(ctx context.Context, opts suites.Options, pkgs []string, dir string) (*report.Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	jsonFile, err := os.Create(filepath.Join(dir, "e2e.json"))
	if err != nil {
		return nil, err
	}
	defer jsonFile.Close()
	logFile, err := os.Create(filepath.Join(dir, "e2e.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	pr, pw := io.Pipe()
	type readResult struct {
		res *report.Result
		err error
	}
	read := make(chan readResult, 1)
	go func() {
		res, err := report.Read(pr, report.Plain(logFile))
		_, _ = io.Copy(io.Discard, pr) // never block the suites on a reader that stopped
		read <- readResult{res, err}
	}()
	runErr := suites.Run(ctx, opts, pkgs, io.MultiWriter(jsonFile, pw))
	pw.Close()
	r := <-read
	if r.err != nil {
		return r.res, errors.Join(runErr, r.err)
	}
	return r.res, runErr
}

// summarize prints the matrix and, last, for every failed test, the end of
// its output: what CI's tail shows when the run is red.
func summarize(w io.Writer, res *report.Result, dir string, wall time.Duration) {
	if md, err := os.ReadFile(filepath.Join(dir, "matrix.md")); err == nil {
		fmt.Fprintf(w, "%s\n", md)
	}
	as := 0
	for _, r := range res.Rows {
		if r.AsExpected {
			as++
		}
	}
	fmt.Fprintf(w, "e2e: %d matrix rows, %d as expected, %d not; %d tests; wall time %s\n",
		len(res.Rows), as, len(res.Rows)-as, len(res.Tests), wall.Round(time.Second))
	fmt.Fprintf(w, "e2e: report in %s (e2e.log, e2e.json, junit.xml, matrix.md, matrix.html)\n", dir)
	for _, t := range res.Tests {
		if t.Action != "fail" || hasFailedChild(res, t) {
			continue
		}
		lines := strings.Split(strings.TrimRight(strings.Join(t.Output, ""), "\n"), "\n")
		if len(lines) > e2eTail {
			lines = lines[len(lines)-e2eTail:]
		}
		fmt.Fprintf(w, "--- FAIL: %s %s\n%s\n", t.Package, t.Name, strings.Join(lines, "\n"))
	}
}

// hasFailedChild reports whether a subtest of t failed too; only the
// innermost failures are repeated.
func hasFailedChild(res *report.Result, t *report.Test) bool {
	for _, c := range res.Tests {
		if c.Package == t.Package && c.Action == "fail" && strings.HasPrefix(c.Name, t.Name+"/") {
			return true
		}
	}
	return false
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
