// Package suites runs the scenario suites: every Go package under the
// scenarios tree (and the node image's own e2e test: DefaultPatterns) that
// has e2e tests becomes its own `go test -json` process, all
// started at once, so a long suite (token rotation waits for the kubelet) runs
// beside the short ones instead of in front of them. Their event streams are
// merged line by line into one stream, which is what harness/report reads,
// and a progress line is printed when a suite or one of its top-level tests
// ends, and every minute while suites are still running.
//
// One process per package rather than one `go test ./scenarios/...`: the go
// command prints a package's events only once the packages before it have
// finished, which leaves a long run silent for minutes.
//
// The test binaries are compiled first, by one go command per module
// (Build), and the suites then run them under test2json, as go test -json
// does. Compiling inside each suite's own go test linked every binary at
// once while the first suites' pods ran: on 2 cores, 93 s, load 26 and
// 9.3 GB of memory, against 27 s and 1.6 GB in one go command, and CI saw
// the lab starve meanwhile (probes timing out in all three clusters, a node
// NotReady, webhooks failing open).
package suites

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options say which suites to run and how.
type Options struct {
	// Go is the go command. Defaults to "go".
	Go string
	// Dir is the module root the patterns are relative to. Defaults to ".".
	Dir string
	// Patterns are the package patterns. Defaults to DefaultPatterns. A
	// relative pattern below a go.mod of its own (./examples/my-app-bug/...)
	// is that module's: it is listed and run from the module's directory,
	// as a user's module is.
	Patterns []string
	// Tags are the build tags. Defaults to "e2e".
	Tags string
	// Run, when set, is passed as -run.
	Run string
	// Skip maps a package to the -skip pattern its go test gets (the
	// quick tier leaves slow tests out this way).
	Skip map[string]string
	// Timeout is each package's -timeout. Defaults to 40m.
	Timeout time.Duration
	// Env, when set, replaces the go command's environment.
	Env []string
	// Progress receives one line per finished suite and top-level test, and a
	// heartbeat every Heartbeat. Defaults to discard.
	Progress io.Writer
	// Heartbeat is the interval of "still running" lines. Defaults to 1m.
	Heartbeat time.Duration
	// Serial are suites (import paths) that load the whole lab, such as
	// the identity storm: run beside the others they would slow them into
	// timeouts and measure their load instead of their own. They run one
	// at a time, in order, each once every other suite has finished
	// except those in Overlap and its Beside. Nil: DefaultSerial; empty:
	// none.
	Serial []string
	// Overlap are suites a serial one need not wait for: they spend their
	// minutes waiting on a clock (the kubelet's token rotation) with a
	// margin that load does not eat. Nil: DefaultOverlap.
	Overlap []string
	// Beside names, for a serial suite, more suites it need not wait for:
	// ones in other clusters than those it disturbs. Nil: DefaultBeside.
	Beside map[string][]string
	// Exclusive are serial suites that also wait for the Overlap ones:
	// they break the lab for a while (a restarted emulator or API
	// server), which no suite may see. Nil: DefaultExclusive.
	Exclusive []string
	// Binaries are the suites' test binaries compiled by Build. A suite
	// without one runs under go test, which compiles it (and reports a
	// build failure in the stream).
	Binaries map[string]Binary
}

// Binary is a suite's compiled test binary and the directory it runs in
// (its package's, as go test runs it).
type Binary struct {
	Path, Dir string
}

// DefaultSerial and DefaultOverlap are the scenario suites that Options'
// Serial and Overlap name by default, in the order serial ones run
// (gkenotready stops gke's shared metadata server; existing creates a
// fourth kind cluster, whose start loads both cores for a minute; the
// storm loads the lab);
// DefaultExclusive those of DefaultSerial that wait for every other suite.
func DefaultSerial() []string {
	return []string{"github.com/idlab/idlab/scenarios/gkenotready", "github.com/idlab/idlab/scenarios/existing", "github.com/idlab/idlab/scenarios/storm", "github.com/idlab/idlab/scenarios/faults"}
}
func DefaultOverlap() []string   { return []string{"github.com/idlab/idlab/scenarios/rotation"} }
func DefaultExclusive() []string { return []string{"github.com/idlab/idlab/scenarios/faults"} }

// DefaultBeside lets gkenotready, which stops the gke cluster's metadata
// server, run beside kube2iam, whose rows are all in eks and which is the
// quick tier's last suite to end.
func DefaultBeside() map[string][]string {
	return map[string][]string{"github.com/idlab/idlab/scenarios/gkenotready": {"github.com/idlab/idlab/scenarios/kube2iam"}}
}

// DefaultPatterns are the suites of a full run: the scenarios; the node
// image's e2e test, which checks the image the lab runs on as kind relies
// on it (it finds the image `idlab up` built rather than building); the
// testcontainers module's, which runs the emulator image in a container of
// its own beside the lab; and examples/my-app-bug, a module of its own
// that reproduces a user's bug with the public scenario kit.
func DefaultPatterns() []string {
	return []string{"./scenarios/...", "./harness/nodeimage", "./testcontainers/...", "./examples/my-app-bug/..."}
}

func (o Options) withDefaults() Options {
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	if len(o.Patterns) == 0 {
		o.Patterns = DefaultPatterns()
	}
	if o.Tags == "" {
		o.Tags = "e2e"
	}
	if o.Timeout == 0 {
		o.Timeout = 40 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = time.Minute
	}
	if o.Serial == nil {
		o.Serial = DefaultSerial()
	}
	if o.Beside == nil {
		o.Beside = DefaultBeside()
	}
	if o.Overlap == nil {
		o.Overlap = DefaultOverlap()
	}
	if o.Exclusive == nil {
		o.Exclusive = DefaultExclusive()
	}
	return o
}

// ErrFailed reports that at least one suite's go test exited non-zero.
var ErrFailed = errors.New("scenario suites failed")

// List returns the suites under the patterns: the packages with test files
// that only build with the options' tags. Packages whose tests build without
// them (the scenario helpers' unit tests) are not suites.
func List(ctx context.Context, opts Options) ([]string, error) {
	opts = opts.withDefaults()
	mods, err := modules(opts.Dir, opts.Patterns)
	if err != nil {
		return nil, err
	}
	var pkgs []string
	for _, m := range mods {
		mo := opts
		mo.Dir, mo.Patterns = filepath.Join(opts.Dir, m.dir), m.patterns
		tagged, err := testFiles(ctx, mo, opts.Tags)
		if err != nil {
			return nil, err
		}
		plain, err := testFiles(ctx, mo, "")
		if err != nil {
			return nil, err
		}
		for pkg, files := range tagged {
			if files != plain[pkg] {
				pkgs = append(pkgs, pkg)
			}
		}
	}
	sort.Strings(pkgs)
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("no packages with tests under %v (tags %q)", opts.Patterns, opts.Tags)
	}
	return pkgs, nil
}

// testFiles maps each package under the patterns to its test files with tags.
func testFiles(ctx context.Context, opts Options, tags string) (map[string]string, error) {
	args := append([]string{"list", "-tags", tags,
		"-f", `{{.ImportPath}} {{join .TestGoFiles ","}},{{join .XTestGoFiles ","}}`}, opts.Patterns...)
	cmd := exec.CommandContext(ctx, opts.Go, args...)
	cmd.Dir, cmd.Env = opts.Dir, opts.Env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %v: %w: %s", opts.Patterns, err, strings.TrimSpace(stderr.String()))
	}
	files := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if pkg, list, ok := strings.Cut(strings.TrimSpace(l), " "); ok && list != "," {
			files[pkg] = list
		}
	}
	return files, nil
}

// Run runs every package in its own `go test -json`, all at once except
// the serial ones (Options.Serial), which follow one at a time once the
// others they must not overlap have finished, and writes the merged events
// to events, whole lines at a time. Lines a go command prints that are not
// JSON (a build failure) are passed on as they are. It returns ErrFailed
// (wrapped, naming the suites) when any go test fails.
func Run(ctx context.Context, opts Options, pkgs []string, events io.Writer) error {
	opts = opts.withDefaults()
	mods, err := modules(opts.Dir, opts.Patterns)
	if err != nil {
		return err
	}
	parallel, serial := split(pkgs, opts.Serial)
	start := time.Now()
	var (
		mu      sync.Mutex // guards events, Progress and running
		running = map[string]time.Time{}
		failed  []string
		wg      sync.WaitGroup
		// ended[pkg] is closed when the parallel suite pkg has ended.
		ended = map[string]chan struct{}{}
	)
	// await returns once the parallel suites the serial suite pkg must not
	// overlap have ended: all of them for an exclusive one, else all but
	// the Overlap ones and those it may run beside.
	await := func(pkg string) {
		exclusive := slices.Contains(opts.Exclusive, pkg)
		for _, p := range parallel {
			if !exclusive && (slices.Contains(opts.Overlap, p) || slices.Contains(opts.Beside[pkg], p)) {
				continue
			}
			<-ended[p]
		}
	}
	emit := func(line []byte) {
		mu.Lock()
		defer mu.Unlock()
		events.Write(append(line, '\n'))
	}
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(opts.Progress, "suites: [%s] "+format+"\n", append([]any{elapsed(start)}, args...)...)
	}
	run := func(pkg string) {
		mu.Lock()
		running[pkg] = time.Now()
		mu.Unlock()
		err := runOne(ctx, opts, moduleDir(opts.Dir, mods, pkg), pkg, emit, say)
		mu.Lock()
		delete(running, pkg)
		if err != nil {
			failed = append(failed, short(pkg))
		}
		mu.Unlock()
	}
	if len(parallel) > 0 {
		say("running %d suites in parallel: %s", len(parallel), strings.Join(shortNames(parallel), ", "))
	}
	if len(serial) > 0 {
		say("then alone, one at a time: %s", strings.Join(shortNames(serial), ", "))
	}
	for _, pkg := range parallel {
		running[pkg] = time.Now() // all in before any goroutine deletes
	}
	for _, pkg := range parallel {
		ended[pkg] = make(chan struct{})
	}
	for _, pkg := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(ended[pkg])
			run(pkg)
		}()
	}
	if len(serial) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, pkg := range serial {
				await(pkg)
				if ctx.Err() != nil {
					return
				}
				say("serial suite %s starts", short(pkg))
				run(pkg)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-done:
			if len(failed) > 0 {
				sort.Strings(failed)
				return fmt.Errorf("%w: %s", ErrFailed, strings.Join(failed, ", "))
			}
			return nil
		case <-tick.C:
			mu.Lock()
			var names []string
			for p, t := range running {
				names = append(names, fmt.Sprintf("%s (%s)", short(p), elapsed(t)))
			}
			mu.Unlock()
			sort.Strings(names)
			say("still running: %s", strings.Join(names, ", "))
		}
	}
}

// split parts pkgs into those that run in parallel, in pkgs' order, and
// the serial ones, in serial's order (the overlapping ones first, the
// exclusive ones, which wait for everything, last).
func split(pkgs, serial []string) (parallel, alone []string) {
	for _, p := range pkgs {
		if !slices.Contains(serial, p) {
			parallel = append(parallel, p)
		}
	}
	for _, p := range serial {
		if slices.Contains(pkgs, p) {
			alone = append(alone, p)
		}
	}
	return parallel, alone
}

// event is the part of a test2json event the progress lines need.
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
}

// command is how package pkg's suite runs: its prebuilt binary under
// `go tool test2json`, with the flags go test -json would pass it, or else
// go test -json in dir (its module's).
func command(ctx context.Context, opts Options, dir, pkg string) *exec.Cmd {
	if bin, ok := opts.Binaries[pkg]; ok {
		args := []string{"tool", "test2json", "-t", "-p", pkg, bin.Path,
			"-test.v=test2json", "-test.paniconexit0", "-test.count=1", "-test.timeout=" + opts.Timeout.String()}
		if opts.Run != "" {
			args = append(args, "-test.run="+opts.Run)
		}
		if skip := opts.Skip[pkg]; skip != "" {
			args = append(args, "-test.skip="+skip)
		}
		cmd := exec.CommandContext(ctx, opts.Go, args...)
		cmd.Dir, cmd.Env = bin.Dir, opts.Env
		return cmd
	}
	args := []string{"test", "-tags", opts.Tags, "-count=1", "-json", "-timeout", opts.Timeout.String()}
	if opts.Run != "" {
		args = append(args, "-run", opts.Run)
	}
	if skip := opts.Skip[pkg]; skip != "" {
		args = append(args, "-skip", skip)
	}
	cmd := exec.CommandContext(ctx, opts.Go, append(args, pkg)...)
	cmd.Dir, cmd.Env = dir, opts.Env
	return cmd
}

// runOne runs one package's suite (command), passing its lines to emit and
// its suite and top-level test results to say.
func runOne(ctx context.Context, opts Options, dir, pkg string, emit func([]byte), say func(string, ...any)) error {
	cmd := command(ctx, opts, dir, pkg)
	// go test writes build failures to stderr; they belong in the stream.
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("suite %s: %w", pkg, err)
	}
	waitErr := make(chan error, 1)
	go func() { err := cmd.Wait(); pw.Close(); waitErr <- err }()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	passed, total := 0, 0
	for sc.Scan() {
		line := sc.Bytes()
		emit(line)
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			continue
		}
		switch {
		case ev.Action != "pass" && ev.Action != "fail" && ev.Action != "skip":
		case ev.Test == "":
			say("suite %s %s in %.0fs (%d/%d top-level tests passed)", short(pkg), verdict(ev.Action), ev.Elapsed, passed, total)
		case !strings.Contains(ev.Test, "/"):
			total++
			if ev.Action != "fail" {
				passed++
			}
			say("  %s %s %s (%.1fs)", short(pkg), verdict(ev.Action), ev.Test, ev.Elapsed)
		}
	}
	// Drain so the go command never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, pr)
	if err := <-waitErr; err != nil {
		return fmt.Errorf("suite %s: %w", pkg, err)
	}
	return nil
}

// Build compiles the test binaries of pkgs into dir: one `go test -c`
// per module and per batch of packages whose binaries would share a name
// (the go command names each after its package's last path element), with
// -ldflags=-s -w (no symbol table or DWARF: a third less linking; stack
// traces still name functions and lines). A package that does not compile
// has no binary and no error here: Run runs it under go test, which
// reports why in the stream, as without Build. It returns an error only
// when it cannot ask the go command at all.
func Build(ctx context.Context, opts Options, pkgs []string, dir string) (map[string]Binary, error) {
	opts = opts.withDefaults()
	mods, err := modules(opts.Dir, opts.Patterns)
	if err != nil {
		return nil, err
	}
	byModule := map[string][]string{}
	var order []string
	for _, pkg := range pkgs {
		d := moduleDir(opts.Dir, mods, pkg)
		if _, ok := byModule[d]; !ok {
			order = append(order, d)
		}
		byModule[d] = append(byModule[d], pkg)
	}
	bins := map[string]Binary{}
	for i, mdir := range order {
		dirs, err := packageDirs(ctx, opts, mdir, byModule[mdir])
		if err != nil {
			return bins, err
		}
		for j, batch := range batches(byModule[mdir]) {
			out := filepath.Join(dir, fmt.Sprintf("m%d-b%d", i, j))
			if err := os.MkdirAll(out, 0o755); err != nil {
				return bins, fmt.Errorf("suite binaries: %w", err)
			}
			args := append([]string{"test", "-c", "-tags", opts.Tags, "-ldflags=-s -w", "-o", out + string(filepath.Separator)}, batch...)
			cmd := exec.CommandContext(ctx, opts.Go, args...)
			cmd.Dir, cmd.Env = mdir, opts.Env
			_ = cmd.Run() // a package that does not build runs under go test (above)
			for _, pkg := range batch {
				p := filepath.Join(out, binaryName(pkg))
				if _, err := os.Stat(p); err == nil && dirs[pkg] != "" {
					bins[pkg] = Binary{Path: p, Dir: dirs[pkg]}
				}
			}
		}
	}
	return bins, nil
}

// packageDirs maps each package to its source directory, where go test
// runs its binary.
func packageDirs(ctx context.Context, opts Options, dir string, pkgs []string) (map[string]string, error) {
	args := append([]string{"list", "-e", "-tags", opts.Tags, "-f", "{{.ImportPath}}\t{{.Dir}}"}, pkgs...)
	cmd := exec.CommandContext(ctx, opts.Go, args...)
	cmd.Dir, cmd.Env = dir, opts.Env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %v: %w: %s", pkgs, err, strings.TrimSpace(stderr.String()))
	}
	dirs := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if pkg, d, ok := strings.Cut(l, "\t"); ok {
			dirs[pkg] = d
		}
	}
	return dirs, nil
}

// batches splits pkgs, in order, into the fewest lists in which no two
// binaries share a name.
func batches(pkgs []string) [][]string {
	var out [][]string
	var names []map[string]bool
next:
	for _, pkg := range pkgs {
		n := binaryName(pkg)
		for i := range out {
			if !names[i][n] {
				out[i], names[i][n] = append(out[i], pkg), true
				continue next
			}
		}
		out, names = append(out, []string{pkg}), append(names, map[string]bool{n: true})
	}
	return out
}

// binaryName is the file go test -c -o DIR/ writes pkg's binary to: the
// last element of its import path, or the one before a major-version
// suffix (cmd/go's DefaultExecName), and ".test".
func binaryName(pkg string) string {
	elem := path.Base(pkg)
	if parent := path.Dir(pkg); parent != "." && len(elem) > 1 && elem[0] == 'v' && strings.Trim(elem[1:], "0123456789") == "" && strings.Contains(parent, "/") {
		elem = path.Base(parent)
	}
	return elem + ".test"
}

func verdict(action string) string {
	switch action {
	case "pass":
		return "ok"
	case "skip":
		return "skipped"
	}
	return "FAILED"
}

// short names a scenario package by its path below scenarios/.
func short(pkg string) string {
	if i := strings.Index(pkg, "/scenarios/"); i >= 0 {
		return pkg[i+len("/scenarios/"):]
	}
	return pkg
}

func shortNames(pkgs []string) []string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		out[i] = short(p)
	}
	return out
}

func elapsed(since time.Time) string {
	return time.Since(since).Round(time.Second).String()
}

// module is a Go module the patterns name packages of.
type module struct {
	dir      string   // relative to Options.Dir: "." for the main module
	path     string   // its module path; "" for the main module
	patterns []string // relative to dir
}

// modules groups patterns by the module that holds them: a relative
// pattern (./DIR, ./DIR/...) whose DIR, or a directory between it and
// root, has a go.mod of its own is that nested module's (the nearest),
// rewritten relative to it; the go command of the main module does not
// reach into a nested module. Every other pattern is the main module's.
func modules(root string, patterns []string) ([]module, error) {
	var mods []module
	index := map[string]int{}
	add := func(dir, pattern string) error {
		i, ok := index[dir]
		if !ok {
			m := module{dir: dir}
			if dir != "." {
				path, err := modulePath(filepath.Join(root, dir, "go.mod"))
				if err != nil {
					return err
				}
				m.path = path
			}
			i = len(mods)
			index[dir] = i
			mods = append(mods, m)
		}
		mods[i].patterns = append(mods[i].patterns, pattern)
		return nil
	}
	for _, p := range patterns {
		dir, rest := nestedModule(root, p)
		if err := add(dir, rest); err != nil {
			return nil, err
		}
	}
	return mods, nil
}

// nestedModule is the module directory of a pattern and the pattern
// relative to it: (".", p) unless p is relative and below a go.mod other
// than root's.
func nestedModule(root, p string) (dir, pattern string) {
	rel, ok := strings.CutPrefix(p, "./")
	if !ok {
		return ".", p
	}
	base, _, _ := strings.Cut(rel, "...")
	base = filepath.Clean(strings.TrimSuffix(base, "/"))
	for d := base; d != "." && d != "/" && d != ""; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(root, d, "go.mod")); err == nil {
			inner := strings.TrimPrefix(strings.TrimPrefix(rel, filepath.ToSlash(d)), "/")
			if inner == "" {
				return d, "."
			}
			return d, "./" + inner
		}
	}
	return ".", p
}

// modulePath reads the module path of a go.mod.
func modulePath(gomod string) (string, error) {
	raw, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("nested module: %w", err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`), nil
		}
	}
	return "", fmt.Errorf("%s names no module", gomod)
}

// moduleDir is the directory to run package pkg's go test in: its nested
// module's, or root.
func moduleDir(root string, mods []module, pkg string) string {
	best := module{dir: "."}
	for _, m := range mods {
		if m.path != "" && (pkg == m.path || strings.HasPrefix(pkg, m.path+"/")) && len(m.path) > len(best.path) {
			best = m
		}
	}
	return filepath.Join(root, best.dir)
}
