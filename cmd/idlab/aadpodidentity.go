package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/idlab/idlab/components/aadpodidentity"
	"github.com/idlab/idlab/internal/hostnat"
)

func aadPodIdentityCommand() command {
	return command{
		name:    "aadpodidentity",
		group:   inClusterGroup,
		usage:   "aadpodidentity mic|nmi|nmi-iptables [flags]",
		summary: "run AAD Pod Identity's MIC (Deployment) or NMI (node server), or install NMI's aad-metadata chain; the lab deploys them in aks",
		run:     runAADPodIdentity,
	}
}

func runAADPodIdentity(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: aadpodidentity mic|nmi|nmi-iptables [flags]", errUsage)
	}
	switch args[0] {
	case "mic":
		return runMIC(ctx, env, args[1:])
	case "nmi":
		return runNMI(ctx, env, args[1:])
	case "nmi-iptables":
		return runNMIIPTables(ctx, env, args[1:])
	}
	return fmt.Errorf("%w: aadpodidentity mic|nmi|nmi-iptables, not %q", errUsage, args[0])
}

// runNMIIPTables installs upstream's chain through the host's / and makes
// sure the node routes pods' traffic to 127.0.0.1 (route_localnet, which
// kube-proxy sets on the lab's nodes as on AKS's).
func runNMIIPTables(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("aadpodidentity nmi-iptables")
	hostRoot := fs.String("host-root", "/host", "the node's / as mounted in the container")
	metadataIP := fs.String("metadata-ip", aadpodidentity.MetadataIP, "instance metadata host ip")
	metadataPort := fs.String("metadata-port", aadpodidentity.MetadataPort, "instance metadata host port")
	nmiHost := fs.String("nmi-listen-address", aadpodidentity.NMIHost, "NMI listen address")
	nmiPort := fs.Int("nmi-port", aadpodidentity.NMIPort, "NMI application port")
	if err := parse(fs, args); err != nil {
		return err
	}
	target := *nmiHost
	if target == "0.0.0.0" {
		target = aadpodidentity.NMIHost
	}
	cmds, err := aadpodidentity.InstallChain(ctx, hostnat.OSEnv(), *hostRoot, *metadataIP, *metadataPort, target, strconv.Itoa(*nmiPort))
	if err != nil {
		return err
	}
	if b, err := os.ReadFile(aadpodidentity.RouteLocalnet); err == nil && strings.TrimSpace(string(b)) != "1" {
		if err := os.WriteFile(aadpodidentity.RouteLocalnet, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("route_localnet: %w", err)
		}
		env.log.Info("nmi: route_localnet was 0, set to 1 as kube-proxy sets it")
	}
	env.log.Info("nmi: aad-metadata chain in place", "commands", len(cmds), "to", net.JoinHostPort(target, strconv.Itoa(*nmiPort)))
	return nil
}

// runNMI serves NMI with upstream's flags.
func runNMI(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("aadpodidentity nmi")
	host := fs.String("nmi-listen-address", aadpodidentity.NMIHost, "NMI listen address")
	port := fs.Int("nmi-port", aadpodidentity.NMIPort, "NMI application port")
	metadataIP := fs.String("metadata-ip", aadpodidentity.MetadataIP, "instance metadata host ip")
	metadataPort := fs.String("metadata-port", aadpodidentity.MetadataPort, "instance metadata host port")
	node := fs.String("node", "", "node name")
	force := fs.Bool("forceNamespaced", false, "forces NMI to namespace identities, bindings and assignments")
	micNS := fs.String("MICNamespace", "default", "MIC namespace to short circuit MIC token requests")
	probe := fs.Int("http-probe-port", 8080, "http health and liveness probe port")
	created := fs.Int("retry-attempts-for-created", aadpodidentity.DefaultRetry.AttemptsForCreated, "number of retries to find an assigned identity in CREATED state")
	assigned := fs.Int("retry-attempts-for-assigned", aadpodidentity.DefaultRetry.AttemptsForAssigned, "number of retries to find an assigned identity in ASSIGNED state")
	interval := fs.Int("find-identity-retry-interval", aadpodidentity.DefaultRetry.IntervalSeconds, "retry interval to find assigned identities in seconds")
	header := fs.Bool("metadata-header-required", true, "metadata header required for querying the instance metadata service")
	block := fs.Bool("block-instance-metadata", false, "block instance metadata endpoints")
	if err := parse(fs, args); err != nil {
		return err
	}
	cs, err := inClusterClient()
	if err != nil {
		return err
	}
	*force = *force || os.Getenv("FORCENAMESPACED") == "true"
	metadataURL := "http://" + net.JoinHostPort(*metadataIP, *metadataPort)
	n, err := aadpodidentity.NewNMI(aadpodidentity.NMIOptions{
		Cluster:     aadpodidentity.NodeCluster{Kube: aadpodidentity.Kube{CS: cs}, Node: *node, Retries: 4, Wait: 300 * time.Millisecond},
		Tokens:      aadpodidentity.IMDS{BaseURL: metadataURL, Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}},
		MetadataURL: metadataURL, ForceNamespaced: *force, MICNamespace: *micNS, MetadataHeaderRequired: *header, BlockInstanceMetadata: *block,
		Retry:  aadpodidentity.Retry{AttemptsForCreated: *created, AttemptsForAssigned: *assigned, IntervalSeconds: *interval},
		Logger: env.log,
	})
	if err != nil {
		return err
	}
	health := http.NewServeMux()
	health.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("Active")) })
	srv := &http.Server{Addr: net.JoinHostPort(*host, strconv.Itoa(*port)), Handler: n, ReadHeaderTimeout: 10 * time.Second}
	probeSrv := &http.Server{Addr: ":" + strconv.Itoa(*probe), Handler: health, ReadHeaderTimeout: 10 * time.Second}
	env.log.Info("nmi listening", "address", srv.Addr, "node", *node, "namespaced", *force, "mic_namespace", *micNS)
	return runServers(ctx, server{srv, srv.ListenAndServe}, server{probeSrv, probeSrv.ListenAndServe})
}

// runMIC runs MIC with its cloud config, its token from the node's IMDS
// (through NMI, which lets MIC's pods through) and Resource Manager.
func runMIC(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("aadpodidentity mic")
	cloudConfig := fs.String("cloudconfig", aadpodidentity.AzureJSONPath, "path to the cloud config (azure.json)")
	force := fs.Bool("forceNamespaced", false, "forces MIC to namespace identities, bindings and assignments")
	interval := fs.Duration("sync-interval", 2*time.Second, "how often MIC matches pods and updates the scale sets")
	armURL := fs.String("arm-endpoint", "https://management.azure.com", "Resource Manager endpoint")
	metadataURL := fs.String("metadata-url", "http://"+aadpodidentity.MetadataIP, "instance metadata service")
	if err := parse(fs, args); err != nil {
		return err
	}
	raw, err := os.ReadFile(*cloudConfig)
	if err != nil {
		return fmt.Errorf("failed to config file %s, error: %w", *cloudConfig, err)
	}
	cfg, err := aadpodidentity.ParseAzureConfig(raw)
	if err != nil {
		return err
	}
	cs, err := inClusterClient()
	if err != nil {
		return err
	}
	*force = *force || os.Getenv("FORCENAMESPACED") == "true"
	imds := aadpodidentity.IMDS{BaseURL: *metadataURL, Client: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{Proxy: nil}}}
	arm := aadpodidentity.ARM{BaseURL: *armURL, Client: &http.Client{Timeout: time.Minute},
		Token: func(ctx context.Context) (string, error) {
			t, err := imds.Token(ctx, cfg.UserAssignedIdentityID, aadpodidentity.ARMResource)
			if err != nil {
				return "", fmt.Errorf("failed to get token from user-assigned identity, error: %w", err)
			}
			return t.AccessToken, nil
		}}
	env.log.Info("mic starting", "subscription", cfg.SubscriptionID, "resource_group", cfg.ResourceGroupName, "scale_set", cfg.PrimaryScaleSetName, "namespaced", *force)
	return aadpodidentity.MIC{Cluster: aadpodidentity.Kube{CS: cs}, Cloud: arm, Config: cfg, ForceNamespaced: *force, Logger: env.log}.Run(ctx, *interval)
}
