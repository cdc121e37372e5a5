package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/idlab/idlab/harness/cloud"
)

func serveCommand() command {
	return command{
		name:    "serve",
		summary: "run the cloud emulators (STS, IAM, OIDC issuers ...) in one HTTPS process; the admin API on its own socket",
		run:     runServe,
		about: `Runs every cloud emulator in one process, as embedded in a test or as
the lab's emulator container: HTTPS on --addr for the cloud host names
(STS, IAM, S3, SNS, OIDC issuers, EKS Auth, GCP IAM Credentials and STS,
GCS, Entra, Azure Blob), and the admin API (fixtures, clock, decisions,
token minting) on its own listener with a bearer secret. Prints each
endpoint and the secret's file on stdout when ready; runs until
interrupted. --config reads a ServeConfig file (what idlab up writes);
flags given explicitly override it.`,
		examples: []example{
			{"idlab serve --data-dir /tmp/idlab-data", "the emulators on their default address with state on disk"},
			{"idlab serve --config .idlab/serve-root/serve.yaml", "what the lab's container runs"},
		},
	}
}

func runServe(ctx context.Context, env *cliEnv, args []string) error {
	sc, err := serveConfig(env, args)
	if err != nil {
		return err
	}
	cfg := sc.Config()
	cfg.Logger = env.log
	secretFile := &sc.AdminSecretFile
	if err := adminDefaults(&cfg, secretFile); err != nil {
		return err
	}
	pprofAddr := ""
	if sc.PprofListen != "" {
		addr, stop, err := startPprof(sc.PprofListen)
		if err != nil {
			return err
		}
		defer stop()
		pprofAddr = "http://" + addr + "/debug/pprof/"
	}
	c, err := cloud.New(cfg)
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return err
	}
	eps := c.Endpoints()
	keys := make([]string, 0, len(eps))
	for k := range eps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(env.stdout, "idlab serve: ready")
	for _, k := range keys {
		fmt.Fprintf(env.stdout, "  %-10s %s\n", k, eps[k])
	}
	fmt.Fprintf(env.stdout, "  %-10s %s\n", "admin secret", *secretFile)
	if pprofAddr != "" {
		fmt.Fprintf(env.stdout, "  %-10s %s\n", "pprof", pprofAddr)
	}
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Close(shutdown)
}

// serveConfig is serve's configuration: the defaults, then the --config
// file when one is given, then the flags given explicitly. The flags are
// parsed twice: once to find --config, once over what it holds.
func serveConfig(env *cliEnv, args []string) (cloud.ServeConfig, error) {
	var file string
	parse := func(sc *cloud.ServeConfig) error {
		fs := env.flagSet("serve")
		fs.StringVar(&file, "config", file, "serve config file (YAML or JSON, fields as cloud.ServeConfig); flags given explicitly override it")
		sc.Bind(fs)
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
		}
		return nil
	}
	sc := cloud.DefaultServeConfig()
	if err := parse(&sc); err != nil || file == "" {
		return sc, err
	}
	sc, err := cloud.LoadServeConfig(file)
	if err != nil {
		return sc, err
	}
	return sc, parse(&sc)
}

// adminDefaults puts the admin socket and secret file in the data dir
// unless flags chose them, and reads the secret, creating it when absent.
func adminDefaults(cfg *cloud.Config, secretFile *string) error {
	if cfg.AdminListen == "" {
		cfg.AdminListen = "unix:" + filepath.Join(cfg.DataDir, "admin.sock")
	}
	if *secretFile == "" {
		*secretFile = filepath.Join(cfg.DataDir, "admin.secret")
	}
	if err := os.MkdirAll(filepath.Dir(*secretFile), 0o755); err != nil {
		return fmt.Errorf("admin secret: %w", err)
	}
	secret, err := cloud.LoadOrCreateAdminSecret(*secretFile)
	if err != nil {
		return err
	}
	cfg.AdminSecret = secret
	return nil
}
