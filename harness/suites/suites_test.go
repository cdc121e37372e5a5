package suites

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/report"
)

// writeModule makes a module with scenario packages: ok passes (an e2e
// test and, untagged beside it, its test of the test, which make test runs
// too), bad fails one of two tests, broken does not compile, and untagged
// has tests only without the e2e tag (so List must skip it); and
// harness/nodeimage and testcontainers/idlab, whose e2e tests the default
// patterns include.
func writeModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/lab\n\ngo 1.22\n",
		"scenarios/ok/ok_test.go": `//go:build e2e

package ok

import "testing"

func TestOK(t *testing.T) { t.Log("IDLAB-ROW {\"suite\":\"ok\",\"scenario\":\"fine\",\"expected\":\"allow\",\"observed\":\"allow\"}") }
`,
		// go test runs a test in its package's directory; so must a
		// prebuilt binary (suites read their fixtures relative to it).
		"scenarios/ok/cwd_test.go":     "//go:build e2e\n\npackage ok\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestCwd(t *testing.T) {\n\tif _, err := os.Stat(\"cwd_test.go\"); err != nil {\n\t\tt.Fatal(err)\n\t}\n}\n",
		"scenarios/ok/denials_test.go": "package ok\n\nimport \"testing\"\n\nfunc TestLabOKRestsOnTheFixture(t *testing.T) {}\n",
		"scenarios/bad/bad_test.go": `//go:build e2e

package bad

import "testing"

func TestGood(t *testing.T) {}
func TestBad(t *testing.T)  { t.Fatal("denial went away") }
`,
		"scenarios/untagged/u_test.go":   "package untagged\n\nimport \"testing\"\n\nfunc TestU(t *testing.T) {}\n",
		"harness/nodeimage/doc.go":       "package nodeimage\n",
		"harness/nodeimage/e_test.go":    "//go:build e2e\n\npackage nodeimage\n\nimport \"testing\"\n\nfunc TestEnsure(t *testing.T) {}\n",
		"testcontainers/idlab/doc.go":    "package idlab\n",
		"testcontainers/idlab/e_test.go": "//go:build e2e\n\npackage idlab\n\nimport \"testing\"\n\nfunc TestRun(t *testing.T) {}\n",
		"harness/other/o_test.go":        "//go:build e2e\n\npackage other\n\nimport \"testing\"\n\nfunc TestO(t *testing.T) {}\n",
		"scenarios/nolib/lib.go":         "package nolib\n",
		// A user's module of its own (examples/my-app-bug): the main
		// module's go command does not reach it.
		"examples/my-app-bug/go.mod":       "module example.com/mine\n\ngo 1.22\n",
		"examples/my-app-bug/doc.go":       "package mine\n",
		"examples/my-app-bug/unit_test.go": "package mine\n\nimport \"testing\"\n\nfunc TestFiles(t *testing.T) {}\n",
		"examples/my-app-bug/e2e_test.go": `//go:build e2e

package mine

import "testing"

func TestMine(t *testing.T) { t.Log("IDLAB-ROW {\"suite\":\"mine\",\"scenario\":\"fixed\",\"expected\":\"allow\",\"observed\":\"allow\"}") }
`,
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	return dir
}

// TestListAndRun runs the suites under go test and, as idlab e2e does,
// from binaries Build compiled first: the stream and progress must be the
// same either way.
func TestListAndRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	for _, prebuilt := range []bool{false, true} {
		t.Run(map[bool]string{false: "go-test", true: "prebuilt"}[prebuilt], func(t *testing.T) { testListAndRun(t, prebuilt) })
	}
}

func testListAndRun(t *testing.T, prebuilt bool) {
	dir := writeModule(t)
	ctx := context.Background()
	var progress bytes.Buffer
	opts := Options{Dir: dir, Progress: &progress, Env: append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local")}

	pkgs, err := List(ctx, opts)
	require.NoError(t, err)
	require.Equal(t, []string{"example.com/lab/harness/nodeimage", "example.com/lab/scenarios/bad", "example.com/lab/scenarios/ok",
		"example.com/lab/testcontainers/idlab", "example.com/mine"}, pkgs,
		"the scenarios, the node image's and testcontainers module's e2e tests and the example module's, nothing else")
	if prebuilt {
		bins, err := Build(ctx, opts, pkgs, t.TempDir())
		require.NoError(t, err)
		require.Len(t, bins, len(pkgs), "every suite, the nested module's too, has a binary: %v", bins)
		require.Equal(t, filepath.Join(dir, "examples/my-app-bug"), bins["example.com/mine"].Dir, "a binary runs in its package's directory")
		opts.Binaries = bins
	}

	var events bytes.Buffer
	err = Run(ctx, opts, pkgs, &events)
	require.ErrorIs(t, err, ErrFailed)
	require.Contains(t, err.Error(), "bad")
	require.NotContains(t, err.Error(), "ok")

	// The merged stream is what the report reads: both suites, the row, the failure.
	res, err := report.Read(&events, nil)
	require.NoError(t, err)
	require.True(t, res.Failed())
	actions := map[string]string{}
	for _, tc := range res.Tests {
		actions[tc.Name] = tc.Action
	}
	require.Equal(t, map[string]string{"TestOK": "pass", "TestCwd": "pass", "TestLabOKRestsOnTheFixture": "pass", "TestGood": "pass", "TestBad": "fail", "TestEnsure": "pass", "TestRun": "pass",
		"TestMine": "pass", "TestFiles": "pass"}, actions,
		"a suite's untagged tests of its tests run beside its e2e tests, in the nested module too")
	require.Len(t, res.Rows, 2, "the row of the example module's test too")
	for _, r := range res.Rows {
		require.True(t, r.AsExpected)
	}

	p := progress.String()
	require.Contains(t, p, "running 5 suites in parallel: example.com/lab/harness/nodeimage, bad, ok, example.com/lab/testcontainers/idlab, example.com/mine")
	require.Contains(t, p, "bad FAILED TestBad")
	require.Contains(t, p, "suite ok ok in")
	require.Contains(t, p, "suite bad FAILED in")
	require.Contains(t, p, "(1/2 top-level tests passed)")
}

func TestRunBuildFailureIsAFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	dir := writeModule(t)
	p := filepath.Join(dir, "scenarios/broken/b_test.go")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte("//go:build e2e\n\npackage broken\n\nfunc TestX(t *testing.T) { undefined() }\n"), 0o644))
	opts := Options{Dir: dir, Env: append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local"), Heartbeat: 10 * time.Millisecond}
	var events, progress bytes.Buffer
	opts.Progress = &progress
	pkgs := []string{"example.com/lab/scenarios/broken", "example.com/lab/scenarios/ok"}
	bins, err := Build(context.Background(), opts, pkgs, t.TempDir())
	require.NoError(t, err, "a package that does not compile is not Build's error")
	require.Equal(t, []string{"example.com/lab/scenarios/ok"}, slices.Collect(maps.Keys(bins)), "only the package that compiles has a binary")
	opts.Binaries = bins
	err = Run(context.Background(), opts, pkgs[:1], &events)
	require.ErrorIs(t, err, ErrFailed)
	stream := events.String()
	require.Contains(t, stream, "undefined: testing")
	res, err := report.Read(strings.NewReader(stream), nil)
	require.NoError(t, err)
	require.True(t, res.Failed(), "a suite that does not build must fail the report:\n%s", stream)
	require.Contains(t, progress.String(), "suite broken FAILED")
}

func TestListNoPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	dir := writeModule(t)
	_, err := List(context.Background(), Options{Dir: dir, Patterns: []string{"./scenarios/untagged/..."}, Tags: "e2e",
		Env: append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local")})
	require.ErrorContains(t, err, "no packages with tests")
}

// TestRunSkip: a package's Skip pattern leaves its tests out (the quick
// tier's slow tests); other packages' tests still run.
func TestRunSkip(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	dir := writeModule(t)
	opts := Options{Dir: dir, Env: append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local"),
		Skip: map[string]string{"example.com/lab/scenarios/bad": "^(TestBad)$"}}
	var events bytes.Buffer
	pkgs := []string{"example.com/lab/scenarios/bad", "example.com/lab/scenarios/ok"}
	// As idlab e2e runs them: prebuilt, so the skip goes to the binary.
	bins, err := Build(context.Background(), opts, pkgs, t.TempDir())
	require.NoError(t, err)
	require.Len(t, bins, 2)
	opts.Binaries = bins
	require.NoError(t, Run(context.Background(), opts, pkgs, &events), "TestBad, the only failing test, is skipped")
	res, err := report.Read(&events, nil)
	require.NoError(t, err)
	var names []string
	for _, tc := range res.Tests {
		names = append(names, tc.Name)
	}
	require.ElementsMatch(t, []string{"TestGood", "TestOK", "TestCwd", "TestLabOKRestsOnTheFixture"}, names)
}

// TestNestedModule: a relative pattern at or below a directory with a
// go.mod of its own is that module's, relative to it; anything else is
// the main module's as given.
func TestNestedModule(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"examples/mine", "examples/mine/inner/deeper", "examples/plain"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "examples/mine/go.mod"), []byte("// a user's\nmodule \"example.com/mine\"\n"), 0o644))
	tests := []struct{ pattern, dir, rest string }{
		{"./examples/mine/...", "examples/mine", "./..."},
		{"./examples/mine", "examples/mine", "."},
		{"./examples/mine/inner/deeper", "examples/mine", "./inner/deeper"},
		{"./examples/plain/...", ".", "./examples/plain/..."},
		{"./examples/...", ".", "./examples/..."},
		{"./scenarios/...", ".", "./scenarios/..."},
		{"github.com/idlab/idlab/scenarios/smoke", ".", "github.com/idlab/idlab/scenarios/smoke"},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			dir, rest := nestedModule(root, tc.pattern)
			require.Equal(t, tc.dir, dir)
			require.Equal(t, tc.rest, rest)
		})
	}
	mods, err := modules(root, []string{"./scenarios/...", "./examples/mine/...", "./harness/nodeimage"})
	require.NoError(t, err)
	require.Equal(t, []module{{dir: ".", patterns: []string{"./scenarios/...", "./harness/nodeimage"}},
		{dir: "examples/mine", path: "example.com/mine", patterns: []string{"./..."}}}, mods)
	require.Equal(t, filepath.Join(root, "examples/mine"), moduleDir(root, mods, "example.com/mine/inner"))
	require.Equal(t, filepath.Join(root, "examples/mine"), moduleDir(root, mods, "example.com/mine"))
	require.Equal(t, root, moduleDir(root, mods, "example.com/minefield"), "a prefix of the path is not the module")
	require.Equal(t, root, moduleDir(root, mods, "example.com/lab/scenarios/ok"))
}

// TestRunSerial: a serial suite starts only after the parallel suites have
// ended, except an overlap suite, which is still running when it starts;
// an exclusive one waits for the overlap suite too; a suite in a serial
// one's Beside is one it need not wait for.
// The suites check the order themselves through files in a shared
// directory, so nothing depends on timing: "first" leaves a file as it
// ends; "alone" fails unless that file is there when it runs; "waiter"
// (the overlap) runs until "alone" has left its own file, and fails when
// that does not happen within $WAIT, then leaves "waiter-done", which
// "last" (exclusive) fails without.
func TestRunSerial(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	dir := t.TempDir()
	marks := t.TempDir()
	suite := func(name, body string) string {
		return "//go:build e2e\n\npackage " + name + "\n\nimport (\n\t\"os\"\n\t\"path/filepath\"\n\t\"testing\"\n\t\"time\"\n)\n\nvar _ = time.Second\n\nfunc mark(t *testing.T, name string) {\n\tif err := os.WriteFile(filepath.Join(os.Getenv(\"MARKS\"), name), nil, 0o644); err != nil {\n\t\tt.Fatal(err)\n\t}\n}\n\nfunc seen(name string) bool {\n\t_, err := os.Stat(filepath.Join(os.Getenv(\"MARKS\"), name))\n\treturn err == nil\n}\n\n" + body
	}
	files := map[string]string{
		"go.mod":                     "module example.com/lab\n\ngo 1.22\n",
		"scenarios/first/f_test.go":  suite("first", "func TestFirst(t *testing.T) { mark(t, \"first-done\") }\n"),
		"scenarios/alone/a_test.go":  suite("alone", "func TestAlone(t *testing.T) {\n\tif !seen(\"first-done\") {\n\t\tt.Fatal(\"started before first ended\")\n\t}\n\tmark(t, \"alone-started\")\n}\n"),
		"scenarios/waiter/w_test.go": suite("waiter", "func TestWaiter(t *testing.T) {\n\twait, _ := time.ParseDuration(os.Getenv(\"WAIT\"))\n\tfor end := time.Now().Add(wait); !seen(\"alone-started\"); time.Sleep(50 * time.Millisecond) {\n\t\tif time.Now().After(end) {\n\t\t\tt.Fatal(\"the serial suite did not start while this one ran\")\n\t\t}\n\t}\n\ttime.Sleep(2 * time.Second) // long enough for a serial suite that does not wait to start\n\tmark(t, \"waiter-done\")\n}\n"),
		"scenarios/last/l_test.go":   suite("last", "func TestLast(t *testing.T) {\n\tif !seen(\"waiter-done\") {\n\t\tt.Fatal(\"an exclusive suite started before the overlap suite ended\")\n\t}\n}\n"),
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	ctx := context.Background()
	var progress bytes.Buffer
	env := append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local", "MARKS="+marks)
	opts := Options{Dir: dir, Patterns: []string{"./scenarios/..."}, Progress: &progress, Env: append(env, "WAIT=1m"),
		Serial: []string{"example.com/lab/scenarios/alone", "example.com/lab/scenarios/last"}, Overlap: []string{"example.com/lab/scenarios/waiter"},
		Exclusive: []string{"example.com/lab/scenarios/last"}}
	pkgs, err := List(ctx, opts)
	require.NoError(t, err)
	require.Len(t, pkgs, 4)
	var events bytes.Buffer
	require.NoError(t, Run(ctx, opts, pkgs, &events), "%s", progress.String())
	res, err := report.Read(&events, nil)
	require.NoError(t, err)
	require.False(t, res.Failed())
	require.Len(t, res.Tests, 4)
	p := progress.String()
	require.Contains(t, p, "running 2 suites in parallel: first, waiter")
	require.Contains(t, p, "then alone, one at a time: alone, last")
	require.Contains(t, p, "serial suite alone starts")
	require.Contains(t, p, "serial suite last starts")

	// Without the overlap, the waiter holds the gate and waits for a
	// suite that cannot start: it fails, which shows its check can.
	require.NoError(t, os.Remove(filepath.Join(marks, "alone-started")))
	require.NoError(t, os.Remove(filepath.Join(marks, "first-done")))
	require.NoError(t, os.Remove(filepath.Join(marks, "waiter-done")))
	opts.Overlap, opts.Exclusive, opts.Env = []string{}, []string{}, append(env, "WAIT=2s")
	events.Reset()
	progress.Reset()
	err = Run(ctx, opts, pkgs, &events)
	require.ErrorIs(t, err, ErrFailed)
	require.Contains(t, err.Error(), "waiter")

	// The waiter in alone's Beside rather than in Overlap: alone runs
	// beside it, and the exclusive last still waits for it.
	for _, m := range []string{"alone-started", "first-done", "waiter-done"} {
		_ = os.Remove(filepath.Join(marks, m))
	}
	opts.Beside = map[string][]string{"example.com/lab/scenarios/alone": {"example.com/lab/scenarios/waiter"}}
	opts.Exclusive, opts.Env = []string{"example.com/lab/scenarios/last"}, append(env, "WAIT=1m")
	events.Reset()
	progress.Reset()
	require.NoError(t, Run(ctx, opts, pkgs, &events), "%s", progress.String())
	res, err = report.Read(&events, nil)
	require.NoError(t, err)
	require.False(t, res.Failed())
}

func TestSplit(t *testing.T) {
	parallel, serial := split([]string{"a", "s", "b", "t"}, []string{"t", "s", "x"})
	require.Equal(t, []string{"a", "b"}, parallel)
	require.Equal(t, []string{"t", "s"}, serial, "in the order of Serial; x is not among the packages")
}

// TestBatches: no two binaries in one go test -c -o DIR/ share a name; the
// fewest batches, packages in order.
func TestBatches(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkgs []string
		want [][]string
	}{
		{"none", nil, nil},
		{"distinct", []string{"m/a", "m/b"}, [][]string{{"m/a", "m/b"}}},
		{"same name twice", []string{"m/x/a", "m/y/a", "m/b"}, [][]string{{"m/x/a", "m/b"}, {"m/y/a"}}},
		{"three of a name", []string{"m/x/a", "m/y/a", "m/z/a"}, [][]string{{"m/x/a"}, {"m/y/a"}, {"m/z/a"}}},
		{"major version suffix", []string{"example.com/m/a/v2", "example.com/m/b/a"}, [][]string{{"example.com/m/a/v2"}, {"example.com/m/b/a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, batches(tc.pkgs)) })
	}
}

func TestBinaryName(t *testing.T) {
	for pkg, want := range map[string]string{
		"github.com/idlab/idlab/scenarios/irsa": "irsa.test",
		"example.com/mine":                      "mine.test",
		"example.com/m/v2":                      "m.test",
		"example.com/m/v2x":                     "v2x.test",
		"v2":                                    "v2.test",
	} {
		require.Equal(t, want, binaryName(pkg), pkg)
	}
}
