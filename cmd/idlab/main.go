// Command idlab runs the local multi-cloud identity lab: the cloud emulators
// (serve), the kind clusters (up, down, status, node-image), the scenario
// suites (e2e) and, inside the lab's pods, the in-cluster components.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// command is one idlab subcommand. run gets the arguments after its name.
// The rest is its help (idlab help NAME, or NAME --help): usage is the
// line after "usage: idlab", about says what it does and why in a few
// sentences, env lists the environment variables it reads and examples
// are command lines with what they do.
type command struct {
	name     string
	summary  string
	group    group
	run      func(ctx context.Context, env *cliEnv, args []string) error
	usage    string
	about    string
	env      []envVar
	examples []example
}

type envVar struct{ name, what string }

type example struct{ cmd, what string }

// group is where `idlab help` lists a command: what runs on the host, and
// what the lab runs inside its pods.
type group int

const (
	hostGroup group = iota
	inClusterGroup
)

// groups are the help's sections, in order.
var groups = []struct {
	group  group
	header string
}{
	{hostGroup, "host commands:"},
	{inClusterGroup, "in-cluster commands (the components' entry points, run inside the lab's pods):"},
}

// cliEnv is what every command shares: output streams and the logger.
// flags is the flag set the command made last, for its help.
type cliEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	flags  *flag.FlagSet
}

// flagSet returns a flag set for a command that prints nothing itself:
// main prints the error once and, for --help, the command's whole help.
func (env *cliEnv) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	env.flags = fs
	return fs
}

// parse parses args with fs; a bad flag is a usage error (exit 2).
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return fmt.Errorf("%w: %v", errUsage, err)
}

// Exit statuses, the same for every command (idlab help lists them).
const (
	exitOK       = 0 // done; for e2e, every row as expected
	exitFailed   = 1 // the command failed; for e2e, rows not as expected
	exitUsage    = 2 // a command-line mistake
	exitLabError = 3 // the lab did not come up or tear down
)

// errUsage marks a command-line mistake; main prints it and exits 2.
var errUsage = errors.New("usage")

// errLab marks a lab that did not come up or tear down (exit 3), as
// against rows that were not as expected (exit 1).
var errLab = errors.New("lab")

// exitCode maps a command's error to its exit status. Rows not as
// expected win over a teardown failure after them: they are the result.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errRows):
		return exitFailed
	case errors.Is(err, errLab):
		return exitLabError
	}
	return exitFailed
}

// errRows marks an e2e run whose rows were not all as expected.
var errRows = errors.New("rows not as expected")

func commands() []command {
	return []command{
		serveCommand(),
		upCommand(),
		downCommand(),
		statusCommand(),
		logsCommand(),
		nodeImageCommand(),
		pyClientImageCommand(),
		toolClientImageCommand(),
		reportCommand(),
		iamCommand(),
		e2eCommand(),
		loadCommand(),
		kubeconfigCommand(),
		decisionsCommand(),
		explainCommand(),
		versionCommand(),
		// In-cluster commands.
		irsaWebhookCommand(),
		gkeMetadataCommand(),
		gtokenWebhookCommand(),
		eksAgentCommand(),
		azureWebhookCommand(),
		kube2iamCommand(),
		aadPodIdentityCommand(),
		labCAWebhookCommand(),
		{name: "gtoken", summary: "write a Google ID token for the pod to a file (what the gtoken webhook injects)", group: inClusterGroup, run: runGTokenWriter},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	// Installed as /gtoken (the lab's gtoken image), this binary is gtoken's
	// token writer, which the gtoken webhook injects by that path.
	if filepath.Base(os.Args[0]) == "gtoken" {
		args = append([]string{"gtoken"}, args...)
	}
	os.Exit(run(ctx, args, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	level := slog.LevelInfo
	if os.Getenv("IDLAB_DEBUG") != "" {
		level = slog.LevelDebug
	}
	env := &cliEnv{stdin: os.Stdin, stdout: stdout, stderr: stderr, log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))}
	cmds := commands()
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	find := func(name string) *command {
		for i := range cmds {
			if cmds[i].name == name {
				return &cmds[i]
			}
		}
		return nil
	}
	// "idlab CMD --help" is "idlab help CMD", also for the commands whose
	// first argument is a subcommand.
	if len(args) == 2 && isHelpFlag(args[1]) && find(args[0]) != nil {
		args = []string{"help", args[0]}
	}
	switch {
	case len(args) == 0:
		printUsage(stderr, cmds)
		return exitUsage
	case isHelpFlag(args[0]) || (args[0] == "help" && len(args) == 1):
		printUsage(stdout, cmds)
		return exitOK
	case args[0] == "help":
		c := find(args[1])
		if c == nil || len(args) > 2 {
			fmt.Fprintf(stderr, "idlab help: no command %q; idlab help lists them\n", strings.Join(args[1:], " "))
			return exitUsage
		}
		// The command's flags are the ones it defines before it parses:
		// run it with --help, which stops it at its flag parse.
		_ = c.run(ctx, env, []string{"--help"})
		printHelp(stdout, c, env.flags)
		return exitOK
	}
	c := find(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "idlab: unknown command %q; idlab help lists them\n", args[0])
		return exitUsage
	}
	err := c.run(ctx, env, args[1:])
	switch code := exitCode(err); {
	case errors.Is(err, flag.ErrHelp):
		printHelp(stdout, c, env.flags)
		return code
	case code == exitUsage:
		fmt.Fprintf(stderr, "idlab %s: %v\nidlab help %s shows its usage\n", c.name, strings.TrimPrefix(err.Error(), "usage: "), c.name)
		return code
	case err != nil:
		fmt.Fprintf(stderr, "idlab %s: %v\n", c.name, err)
		return code
	}
	return exitOK
}

// printUsage lists cmds by group, in the order of groups, with the names
// in one column, then the exit statuses.
func printUsage(w io.Writer, cmds []command) {
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	fmt.Fprintln(w, "usage: idlab <command> [flags]")
	fmt.Fprintln(w, "       idlab help <command>   what it does, its flags, environment and examples")
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s\n", g.header)
		for _, c := range cmds {
			if c.group == g.group {
				fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
			}
		}
	}
	fmt.Fprintln(w)
	printExitStatus(w)
}

func printExitStatus(w io.Writer) {
	fmt.Fprintf(w, "exit status:\n  %d  done (e2e: every row as expected)\n  %d  failed (e2e: rows not as expected)\n  %d  usage: a bad command, flag or argument\n  %d  the lab did not come up or tear down\n",
		exitOK, exitFailed, exitUsage, exitLabError)
}

// printHelp is one command's help: usage, what it does, flags,
// environment, examples, exit status.
func printHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	usage := c.usage
	if usage == "" {
		usage = c.name + " [flags]"
	}
	fmt.Fprintf(w, "usage: idlab %s\n\n", usage)
	about := c.about
	if about == "" {
		about = c.summary + "."
	}
	fmt.Fprintf(w, "%s\n", strings.TrimSpace(about))
	if fs != nil && hasFlags(fs) {
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if len(c.env) > 0 {
		fmt.Fprintln(w, "\nenvironment:")
		width := 0
		for _, e := range c.env {
			width = max(width, len(e.name))
		}
		for _, e := range c.env {
			fmt.Fprintf(w, "  %-*s  %s\n", width, e.name, e.what)
		}
	}
	if len(c.examples) > 0 {
		fmt.Fprintln(w, "\nexamples:")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n      %s\n", e.cmd, e.what)
		}
	}
	fmt.Fprintln(w)
	printExitStatus(w)
}

func isHelpFlag(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}
