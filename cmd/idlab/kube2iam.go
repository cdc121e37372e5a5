package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/idlab/idlab/components/kube2iam"
)

func kube2iamCommand() command {
	return command{
		name:    "kube2iam",
		group:   inClusterGroup,
		usage:   "kube2iam serve|iptables [flags]",
		summary: "run the kube2iam-style metadata proxy on a node (serve) or install its DNAT (iptables); the lab deploys both in eks",
		run:     runKube2iam,
	}
}

func runKube2iam(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: kube2iam serve|iptables [flags]", errUsage)
	}
	switch args[0] {
	case "serve":
		return runKube2iamServe(ctx, env, args[1:])
	case "iptables":
		fs := env.flagSet("kube2iam iptables")
		hostRoot := fs.String("host-root", kube2iam.HostRoot, "the node's / as mounted in the container")
		iface := fs.String("host-interface", "docker0", "host interface for proxying AWS metadata")
		hostIP := fs.String("host-ip", "", "IP address of host")
		port := fs.Int("app-port", kube2iam.DefaultAppPort, "kube2iam server http port")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if err := kube2iam.AddIPTablesRule(ctx, *hostRoot, *iface, *hostIP, *port); err != nil {
			return err
		}
		env.log.Info("kube2iam DNAT installed", "interface", *iface, "to", *hostIP+":"+strconv.Itoa(*port))
		return nil
	}
	return fmt.Errorf("%w: kube2iam serve|iptables, not %q", errUsage, args[0])
}

// runKube2iamServe serves the proxy with upstream's flags, with the
// in-cluster API credentials.
func runKube2iamServe(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("kube2iam serve")
	var o kube2iam.Options
	port := fs.Int("app-port", kube2iam.DefaultAppPort, "kube2iam server http port")
	fs.StringVar(&o.BaseRoleARN, "base-role-arn", "", "base role ARN")
	fs.StringVar(&o.DefaultRole, "default-role", "", "fallback role to use when annotation is not set")
	fs.StringVar(&o.RoleKey, "iam-role-key", kube2iam.DefaultRoleKey, "pod annotation key used to retrieve the IAM role")
	fs.StringVar(&o.ExternalIDKey, "iam-external-id", kube2iam.DefaultExternalIDKey, "pod annotation key used to retrieve the IAM ExternalId")
	fs.DurationVar(&o.SessionTTL, "iam-role-session-ttl", kube2iam.DefaultSessionTTL, "TTL for the assume role session")
	metadataAddr := fs.String("metadata-addr", kube2iam.DefaultMetadataAddress, "address for the ec2 metadata")
	fs.String("host-interface", "docker0", "host interface for proxying AWS metadata (the iptables subcommand uses it)")
	fs.BoolVar(&o.NamespaceRestriction, "namespace-restrictions", false, "enable namespace restrictions")
	fs.StringVar(&o.NamespaceRestrictionFormat, "namespace-restriction-format", kube2iam.FormatGlob, "namespace restriction format (glob/regexp; anything else is glob, as upstream)")
	fs.StringVar(&o.NamespaceKey, "namespace-key", kube2iam.DefaultNamespaceKey, "namespace annotation key used to retrieve the IAM roles allowed (a JSON array)")
	fs.StringVar(&o.HostIP, "host-ip", "", "IP address of host")
	fs.StringVar(&o.NodeName, "node", "", "name of the node where kube2iam is running")
	fs.DurationVar(&o.BackoffMaxInterval, "backoff-max-interval", kube2iam.DefaultBackoffInterval, "max interval for backoff when querying for role")
	fs.DurationVar(&o.BackoffMaxElapsed, "backoff-max-elapsed-time", kube2iam.DefaultBackoffElapsed, "max elapsed time for backoff when querying for role")
	fs.BoolVar(&o.UseRegionalSTS, "use-regional-sts-endpoint", false, "use the regional sts endpoint if AWS_REGION is set")
	logFormat := fs.String("log-format", "text", "log format (text/json)")
	if err := parse(fs, args); err != nil {
		return err
	}
	o.MetadataURL = "http://" + *metadataAddr
	o.Region = os.Getenv("AWS_REGION")
	o.Logger = env.log
	if *logFormat == "json" {
		o.Logger = slog.New(slog.NewJSONHandler(env.stderr, nil))
	}
	var err error
	if o.Client, err = inClusterClient(); err != nil {
		return err
	}
	h, err := kube2iam.New(o)
	if err != nil {
		return err
	}
	// As upstream, serve once the pod and namespace caches hold the cluster.
	if err := h.Start(ctx); err != nil {
		return err
	}
	srv := &http.Server{Addr: ":" + strconv.Itoa(*port), Handler: h, ReadHeaderTimeout: 10 * time.Second}
	o.Logger.Info("kube2iam listening", "port", *port, "node", o.NodeName)
	return runServers(ctx, server{srv, srv.ListenAndServe})
}
