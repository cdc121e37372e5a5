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
	"syscall"
)

// command is one idlab subcommand. run gets the arguments after its name.
type command struct {
	name    string
	summary string
	group   group
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

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
type cliEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// errUsage marks a command-line mistake; main prints usage and exits 2.
var errUsage = errors.New("usage")

func commands() []command {
	return []command{
		serveCommand(),
		upCommand(),
		downCommand(),
		statusCommand(),
		logsCommand(),
		nodeImageCommand(),
		pyClientImageCommand(),
		reportCommand(),
		e2eCommand(),
		// In-cluster commands.
		irsaWebhookCommand(),
		gkeMetadataCommand(),
		gtokenWebhookCommand(),
		eksAgentCommand(),
		azureWebhookCommand(),
		kube2iamCommand(),
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
	usage := func() { printUsage(stderr, cmds) }
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "idlab %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "idlab %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "idlab: unknown command %q\n", args[0])
	usage()
	return 2
}

// printUsage lists cmds by group, in the order of groups, with the names
// in one column.
func printUsage(w io.Writer, cmds []command) {
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	fmt.Fprintln(w, "usage: idlab <command> [flags]")
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s\n", g.header)
		for _, c := range cmds {
			if c.group == g.group {
				fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
			}
		}
	}
}
