package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"time"

	"github.com/idlab/idlab/harness/cloud"
)

func serveCommand() command {
	return command{
		name:    "serve",
		summary: "run the cloud emulators (STS, IAM, OIDC issuers ...) in one HTTPS process",
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
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Close(shutdown)
}
