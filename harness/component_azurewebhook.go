package harness

import (
	"context"
	"time"

	"github.com/idlab/idlab/components/azurewebhook"
)

// ComponentAzureWebhook is the Azure Workload Identity webhook.
const ComponentAzureWebhook = "azure-wi-webhook"

// azureWebhook runs `idlab azure-webhook` as AKS runs the workload
// identity webhook: pods labelled azure.workload.identity/use=true get the
// cluster's tenant (the lab's unless a lab file names another) as
// AZURE_TENANT_ID (unless their service account names another),
// AZURE_AUTHORITY_HOST=https://login.microsoftonline.com/ (which
// cluster DNS sends to the emulator) and the projected token.
type azureWebhook struct{}

func (azureWebhook) Name() string    { return ComponentAzureWebhook }
func (azureWebhook) Cluster() string { return "aks" }

func (azureWebhook) Deploy(ctx context.Context, d *deployer) error {
	if err := deployWebhookServer(ctx, d.cs, d.ca, azurewebhook.Name, azurewebhook.ServiceHosts(SystemNamespace),
		azurewebhook.TLSSecret, azurewebhook.Manifests(d.image, SystemNamespace, d.ca.PEM),
		"--tenant-id="+d.cluster.Tenant); err != nil {
		return err
	}
	return waitMutates(ctx, d.cs, azureCheck(), webhookWait, time.Second)
}

// azureCheck: a labelled pod whose ServiceAccount names a client ID gets
// AZURE_CLIENT_ID.
func azureCheck() webhookCheck {
	return newWebhookCheck(ComponentAzureWebhook, "the Azure workload identity webhook",
		map[string]string{azurewebhook.ClientIDAnnotation: "00000000-0000-4000-8000-000000000000"},
		map[string]string{azurewebhook.UseLabel: "true"}, hasEnv(azurewebhook.ClientIDEnv))
}
