package main

import (
	"context"
	"net/http"

	"github.com/idlab/idlab/components/azurewebhook"
)

func azureWebhookCommand() command {
	return command{
		name:    "azure-webhook",
		group:   inClusterGroup,
		summary: "run the Azure Workload Identity mutating webhook in a cluster (the lab deploys it in aks)",
		run:     runAzureWebhook,
	}
}

// runAzureWebhook serves the webhook with the in-cluster API credentials
// and the certificate the lab mounts, until the pod is stopped.
func runAzureWebhook(ctx context.Context, env *cliEnv, args []string) error {
	fs, addr, certDir := webhookFlags(env, "azure-webhook", azurewebhook.ContainerPort, azurewebhook.CertDir)
	tenant := fs.String("tenant-id", "", "AZURE_TENANT_ID injected for service accounts without a tenant-id annotation (upstream's AZURE_TENANT_ID)")
	authority := fs.String("authority-host", "", "AZURE_AUTHORITY_HOST injected into pods (default: the cloud's)")
	cloud := fs.String("cloud", azurewebhook.DefaultCloud, "Azure cloud whose Entra endpoint is AZURE_AUTHORITY_HOST (upstream's AZURE_ENVIRONMENT)")
	audience := fs.String("audience", azurewebhook.DefaultAudience, "audience of the projected token (upstream's --audience)")
	release := fs.String("release", string(azurewebhook.DefaultRelease), "upstream release whose pod layout to produce: v1.6.0 or v1.5.1")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cert, cs, err := inCluster(*certDir)
	if err != nil {
		return err
	}
	h, err := azurewebhook.New(ctx, azurewebhook.Options{Release: azurewebhook.Release(*release), TenantID: *tenant, Cloud: *cloud,
		AuthorityHost: *authority, Audience: *audience, Client: cs, Logger: env.log})
	if err != nil {
		return err
	}
	defer h.Close()
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	env.log.Info("azure workload identity webhook", "release", *release, "tenant", *tenant, "cloud", *cloud, "authority", *authority)
	return serveTLS(ctx, env, *addr, cert, mux)
}
