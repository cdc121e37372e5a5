package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/idlab/idlab/components/eksagent"
)

func eksAgentCommand() command {
	return command{
		name:    "eks-pod-identity-agent",
		group:   inClusterGroup,
		usage:   "eks-pod-identity-agent initialize|server [flags]",
		summary: "run the EKS Pod Identity Agent on a node (server) or add its link (initialize); the lab deploys both in eks",
		run:     runEKSAgent,
	}
}

func runEKSAgent(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: eks-pod-identity-agent initialize|server [flags]", errUsage)
	}
	switch args[0] {
	case "initialize":
		fs := env.flagSet("eks-pod-identity-agent initialize")
		hostRoot := fs.String("host-root", eksagent.HostRoot, "the node's / as mounted in the container")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if err := eksagent.SetupLink(ctx, *hostRoot); err != nil {
			return err
		}
		env.log.Info("pod identity agent link ready", "link", eksagent.LinkName, "address", eksagent.IPv4Address)
		return nil
	case "server":
		return runEKSAgentServer(ctx, env, args[1:])
	}
	return fmt.Errorf("%w: eks-pod-identity-agent initialize|server, not %q", errUsage, args[0])
}

// runEKSAgentServer serves the agent on each bind host with the node's
// credentials from the AWS SDK's default chain (the instance role from
// IMDS on a node), as upstream does.
func runEKSAgentServer(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("eks-pod-identity-agent server")
	var o eksagent.Options
	fs.StringVar(&o.ClusterName, "cluster-name", "", "the EKS cluster the node belongs to (required)")
	fs.StringVar(&o.Region, "region", "", "the cluster's region (default: the SDK's, else us-west-2)")
	fs.StringVar(&o.Endpoint, "endpoint", "", "override for the EKS Auth endpoint")
	port := fs.Int("port", eksagent.Port, "listening port")
	binds := fs.String("bind-hosts", eksagent.IPv4Address+",["+eksagent.IPv6Address+"]", "comma-separated hosts to bind")
	fs.DurationVar(&o.CredentialRenewal, "max-credential-retention-before-renewal", eksagent.DefaultCredentialRenewal, "longest credentials are served from the cache; 0 disables caching")
	fs.IntVar(&o.MaxCacheSize, "max-cache-size", eksagent.DefaultMaxCacheSize, "most pods cached; 0 disables caching")
	timeout := fs.Duration("eks-auth-timeout", time.Second, "EKS Auth request timeout (upstream: 1s)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.ClusterName == "" {
		return fmt.Errorf("%w: --cluster-name is required", errUsage)
	}
	o.DisableCache = o.CredentialRenewal == 0 || o.MaxCacheSize == 0
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("aws configuration: %w", err)
	}
	if o.Region == "" {
		o.Region = cfg.Region
	}
	o.Credentials = eksagent.CredentialsFunc(func(ctx context.Context) (eksagent.Credentials, error) {
		c, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return eksagent.Credentials{}, err
		}
		return eksagent.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}, nil
	})
	o.HTTPClient = &http.Client{Timeout: *timeout}
	o.Logger = env.log
	a, err := eksagent.New(o)
	if err != nil {
		return err
	}
	var servers []server
	for _, h := range strings.Split(*binds, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		addr := net.JoinHostPort(strings.Trim(h, "[]"), strconv.Itoa(*port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		srv := &http.Server{Handler: a, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
		servers = append(servers, server{srv, func() error { return srv.Serve(ln) }})
		env.log.Info("pod identity agent serving", "addr", addr, "cluster", o.ClusterName)
	}
	if len(servers) == 0 {
		return fmt.Errorf("%w: no --bind-hosts", errUsage)
	}
	return runServers(ctx, servers...)
}
