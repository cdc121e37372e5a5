package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/idlab/idlab/harness"
)

func upCommand() command {
	return command{name: "up", summary: "bring up the lab: kind clusters, emulator container, cluster DNS", run: runUp}
}

func downCommand() command {
	return command{name: "down", summary: "delete the lab's clusters, emulator container and state", run: runDown}
}

func statusCommand() command {
	return command{name: "status", summary: "show the lab's clusters and emulator", run: runStatus}
}

// labFlags parses the flags every lab command shares over ConfigFromEnv.
func labFlags(name string, env *cliEnv, args []string) (harness.Config, error) {
	fs, cfg, err := labFlagSet(name, env)
	if err != nil {
		return harness.Config{}, err
	}
	if err := fs.Parse(args); err != nil {
		return *cfg, err
	}
	if fs.NArg() > 0 {
		return *cfg, fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	return *cfg, nil
}

// labFlagSet is labFlags' flag set, for commands that add flags of their
// own; cfg is filled when fs is parsed.
func labFlagSet(name string, env *cliEnv) (fs *flag.FlagSet, cfg *harness.Config, err error) {
	c, err := harness.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg = &c
	fs = flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "lab state directory (IDLAB_STATE_DIR)")
	fs.IntVar(&cfg.HostPort, "port", cfg.HostPort, "emulator port on 127.0.0.1 (IDLAB_PORT)")
	fs.StringVar(&cfg.KindConfig, "kind-config", "kind-config.yaml", "kind cluster template")
	fs.StringVar(&cfg.FixturesDir, "fixtures", "fixtures/aws", "IAM fixtures directory")
	fs.StringVar(&cfg.ProbeBinary, "probe", "", "static SDK probe binary to load into the clusters")
	fs.BoolVar(&cfg.PyClient, "pyclient", false, "build (once) and load the image of Debian's awscli and boto3 into the AWS clusters")
	cfg.Progress, cfg.Log = env.stderr, env.log
	return fs, cfg, nil
}

func logsCommand() command {
	return command{name: "logs", summary: "export cluster and emulator logs to a directory", run: runLogs}
}

func runLogs(ctx context.Context, env *cliEnv, args []string) error {
	dir := "artifacts/logs"
	var rest []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--dir" && i+1 < len(args) {
			dir = args[i+1]
			i++
			continue
		}
		rest = append(rest, args[i])
	}
	cfg, err := labFlags("logs", env, rest)
	if err != nil {
		return err
	}
	lab, err := harness.New(cfg)
	if err != nil {
		return err
	}
	return lab.ExportLogs(ctx, dir)
}

func runUp(ctx context.Context, env *cliEnv, args []string) error {
	cfg, err := labFlags("up", env, args)
	if err != nil {
		return err
	}
	lab, err := harness.New(cfg)
	if err != nil {
		return err
	}
	st, err := lab.Up(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "lab up: emulator %s (CA %s)\n", st.EmulatorURL, st.CAFile)
	fmt.Fprintf(env.stdout, "  admin API %s (bearer secret in %s)\n", st.AdminAddr, st.AdminSecretFile)
	for _, c := range st.Clusters {
		fmt.Fprintf(env.stdout, "  cluster %s: issuer %s, kubeconfig %s\n", c.Name, c.IssuerURL, c.Kubeconfig)
	}
	return nil
}

func runDown(ctx context.Context, env *cliEnv, args []string) error {
	cfg, err := labFlags("down", env, args)
	if err != nil {
		return err
	}
	lab, err := harness.New(cfg)
	if err != nil {
		return err
	}
	return lab.Down(ctx)
}

func runStatus(ctx context.Context, env *cliEnv, args []string) error {
	cfg, err := labFlags("status", env, args)
	if err != nil {
		return err
	}
	lab, err := harness.New(cfg)
	if err != nil {
		return err
	}
	lines, err := lab.Status(ctx)
	for _, l := range lines {
		fmt.Fprintln(env.stdout, l)
	}
	return err
}
