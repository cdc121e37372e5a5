// Command idlab runs the local multi-cloud identity lab: the cloud emulators
// (serve), the kind clusters (up, down, status, node-image) and the scenario
// suites (e2e).
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
	run     func(ctx context.Context, env *cliEnv, args []string) error
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
		irsaWebhookCommand(),
		gkeMetadataCommand(),
		reportCommand(),
		e2eCommand(),
		gtokenWebhookCommand(),
		eksAgentCommand(),
		azureWebhookCommand(),
		kube2iamCommand(),
		{name: "gtoken", summary: "write a Google ID token for the pod to a file (what the gtoken webhook injects)", run: runGTokenWriter},
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
	usage := func() {
		fmt.Fprintln(stderr, "usage: idlab <command> [flags]\n\ncommands:")
		for _, c := range cmds {
			fmt.Fprintf(stderr, "  %-12s %s\n", c.name, c.summary)
		}
	}
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
