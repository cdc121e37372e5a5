package main

import (
	"context"
	"flag"
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
	}
}

func runServe(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	cfg := cloud.Config{Logger: env.log}
	fs.StringVar(&cfg.DataDir, "data-dir", ".idlab/serve", "directory for the lab CA and persisted state")
	fs.StringVar(&cfg.FixturesDir, "fixtures", "", "AWS fixtures (IAM, buckets, topics): a YAML file or a directory of them")
	fs.StringVar(&cfg.GCPFixtures, "gcp-fixtures", "", "Google fixtures (projects, service accounts, pools, bindings, GCS buckets)")
	fs.StringVar(&cfg.EKSFixtures, "eks-fixtures", "", "EKS Auth fixtures (clusters, pod identity associations)")
	fs.StringVar(&cfg.AzureFixtures, "azure-fixtures", "", "Entra fixtures (tenants, apps, federated credentials)")
	fs.StringVar(&cfg.IssuersFile, "issuers", "", "YAML file listing OIDC issuers and their public keys")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1", "address to listen on")
	fs.IntVar(&cfg.HTTPSPort, "https-port", 8443, "HTTPS port (0 picks a free one)")
	fs.StringVar(&cfg.Region, "region", "us-east-1", "default AWS region")
	fs.StringVar(&cfg.AdminListen, "admin-listen", "", "where the admin API listens: unix:PATH or 127.0.0.1:PORT, never a non-loopback address (default unix:DATA-DIR/admin.sock)")
	secretFile := fs.String("admin-secret-file", "", "file holding the admin API's bearer secret, created 0600 when absent (default DATA-DIR/admin.secret)")
	fs.Func("imds", "a node's EC2 instance metadata on plain HTTP (repeatable): name=N,port=P,bridge-port=B,role=ARN,instance-id=I,region=R,hop-limit=H,http-tokens=required|optional", func(s string) error {
		ic, err := cloud.ParseIMDSFlag(s)
		cfg.IMDS = append(cfg.IMDS, ic)
		return err
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if err := adminDefaults(&cfg, secretFile); err != nil {
		return err
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
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Close(shutdown)
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
