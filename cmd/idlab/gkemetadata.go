package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/idlab/idlab/components/gkemetadata"
)

func gkeMetadataCommand() command {
	return command{
		name:    "gke-metadata",
		group:   inClusterGroup,
		usage:   "gke-metadata serve|install-dnat [flags]",
		summary: "run the GKE metadata server on a node (serve) or install its DNAT (install-dnat); the lab deploys both in gke",
		run:     runGKEMetadata,
	}
}

func runGKEMetadata(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: gke-metadata serve|install-dnat [flags]", errUsage)
	}
	switch args[0] {
	case "serve":
		return runGKEMetadataServe(ctx, env, args[1:])
	case "install-dnat":
		fs := env.flagSet("gke-metadata install-dnat")
		hostRoot := fs.String("host-root", gkemetadata.HostRoot, "the node's / as mounted in the container")
		nodeIP := fs.String("node-ip", "", "the node's IP, where the metadata server listens")
		port := fs.Int("port", gkemetadata.Port, "the metadata server's port")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if net.ParseIP(*nodeIP) == nil {
			return fmt.Errorf("%w: --node-ip %q is not an IP address", errUsage, *nodeIP)
		}
		if err := gkemetadata.InstallDNAT(ctx, *hostRoot, *nodeIP, *port); err != nil {
			return err
		}
		env.log.Info("metadata DNAT installed", "to", net.JoinHostPort(*nodeIP, fmt.Sprint(*port)))
		return nil
	}
	return fmt.Errorf("%w: gke-metadata serve|install-dnat, not %q", errUsage, args[0])
}

// runGKEMetadataServe serves the metadata API on the node for the pods
// scheduled there, with the in-cluster API credentials.
func runGKEMetadataServe(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("gke-metadata serve")
	addr := fs.String("addr", fmt.Sprintf(":%d", gkemetadata.Port), "listen address")
	var o gkemetadata.Options
	fs.StringVar(&o.NodeName, "node-name", "", "the node this server answers for")
	fs.StringVar(&o.NodeIP, "node-ip", "", "the node's IP (hostNetwork callers get the node's identity)")
	fs.StringVar(&o.ProjectID, "project-id", "", "Google project ID")
	fs.StringVar(&o.ProjectNumber, "project-number", "", "Google project number")
	fs.StringVar(&o.ClusterName, "cluster-name", "", "cluster name")
	fs.StringVar(&o.ClusterLocation, "cluster-location", "", "cluster location")
	fs.StringVar(&o.IssuerURL, "issuer-url", "", "the cluster's service-account issuer")
	fs.StringVar(&o.NodeKSA, "node-ksa", "", "namespace/name of a KSA whose workload identity is the node's (hostNetwork callers)")
	fs.StringVar(&o.NodeServiceAccount, "node-service-account", "", "the node's Google service account email")
	fs.DurationVar(&o.PodLookupWait, "pod-lookup-wait", podLookupWait, "how long a caller's IP may wait for its pod to appear in the API (the server's pod watch)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var err error
	if o.Client, err = inClusterClient(); err != nil {
		return err
	}
	o.Logger = env.log
	h, err := gkemetadata.New(o)
	if err != nil {
		return err
	}
	// Listen once the caches hold the node's pods, so a ready server
	// (its readiness probe) knows them.
	if err := h.Start(ctx); err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	env.log.Info("gke metadata server serving", "addr", *addr, "node", o.NodeName)
	return runServers(ctx, server{srv, srv.ListenAndServe})
}

// podLookupWait is `gke-metadata serve`'s default --pod-lookup-wait. GKE
// documents that its metadata server may take a few seconds to serve a
// new pod; 5 s was too short for the lab's one loaded node: in a full run
// with 50 pods starting at once (scenarios/storm) one pod's IP reached
// the API after it, and its token request got the 404.
const podLookupWait = 15 * time.Second
