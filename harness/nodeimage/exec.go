package nodeimage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// runner runs commands with their output appended to one log file per step,
// so a failure can name the command and show the tail of its log.
type runner struct {
	logDir string
	log    *slog.Logger
	env    []string
	// tee, when set, also receives the commands' stderr (long steps whose
	// own progress lines are worth showing).
	tee io.Writer
}

// CommandError is a failed command: the command line, its log and the tail.
type CommandError struct {
	Cmd  string
	Log  string
	Tail string
	Err  error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("`%s`: %v (log: %s)\n%s", e.Cmd, e.Err, e.Log, indent(e.Tail, "    | "))
}

func (e *CommandError) Unwrap() error { return e.Err }

func (r *runner) run(ctx context.Context, step string, stdin io.Reader, name string, args ...string) (string, error) {
	return r.runEnv(ctx, step, nil, stdin, name, args...)
}

// runEnv runs name args with extra env, returning stdout. stdout and stderr
// both go to <logDir>/<step>.log.
func (r *runner) runEnv(ctx context.Context, step string, env []string, stdin io.Reader, name string, args ...string) (string, error) {
	logPath := filepath.Join(r.logDir, step+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	defer lf.Close()
	line := commandLine(name, args)
	fmt.Fprintf(lf, "$ %s\n", line)
	r.log.Debug("run", "step", step, "cmd", line)

	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append(os.Environ(), r.env...), env...)
	cmd.Stdin = stdin
	cmd.Stdout = io.MultiWriter(&stdout, lf)
	cmd.Stderr = lf
	if r.tee != nil {
		cmd.Stderr = io.MultiWriter(lf, r.tee)
	}
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err = cmd.Run()
	fmt.Fprintf(lf, "# exit: %v after %s\n", err, time.Since(start).Round(time.Millisecond))
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return stdout.String(), &CommandError{Cmd: line, Log: logPath, Tail: tailFile(logPath, 25), Err: err}
	}
	return stdout.String(), nil
}

// commandLine renders a command for humans, quoting arguments with spaces and
// shortening long inline scripts.
func commandLine(name string, args []string) string {
	parts := []string{name}
	for _, a := range args {
		if strings.Contains(a, "\n") {
			first, _, _ := strings.Cut(strings.TrimSpace(a), "\n")
			a = first + " ..."
		}
		if a == "" || strings.ContainsAny(a, " \t'\"$;&|<>*") {
			a = shellQuote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return tailLines(string(b), n)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// progress prints "[i/n] step ... 12.3s" lines.
type progress struct {
	w     io.Writer
	i, n  int
	now   func() time.Time
	total time.Time
}

func newProgress(w io.Writer, n int) *progress {
	return &progress{w: w, n: n, now: time.Now, total: time.Now()}
}

// step runs fn as the next numbered step. fn may return a short note
// ("cached") printed after the duration.
func (p *progress) step(name string, fn func() (string, error)) error {
	p.i++
	fmt.Fprintf(p.w, "[%d/%d] %s ...\n", p.i, p.n, name)
	start := p.now()
	note, err := fn()
	d := p.now().Sub(start)
	status := fmt.Sprintf("%.1fs", d.Seconds())
	if note != "" {
		status += " (" + note + ")"
	}
	if err != nil {
		fmt.Fprintf(p.w, "[%d/%d] %s ... FAILED after %s\n", p.i, p.n, name, status)
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(p.w, "[%d/%d] %s ... %s\n", p.i, p.n, name, status)
	return nil
}

// skipRest reports that the remaining steps are not needed.
func (p *progress) skipRest(why string) {
	fmt.Fprintf(p.w, "[%d/%d] remaining steps skipped: %s (total %.1fs)\n", p.i, p.n, why, p.now().Sub(p.total).Seconds())
}
