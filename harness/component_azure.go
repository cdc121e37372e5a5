package harness

import (
	"context"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/components/azurewebhook"
	"github.com/idlab/idlab/internal/certs"
)

// ComponentAzureWebhook is the Azure Workload Identity webhook.
const ComponentAzureWebhook = "azure-wi-webhook"

// deployAzureWebhook runs `idlab azure-webhook` as AKS runs the workload
// identity webhook: pods labelled azure.workload.identity/use=true get the
// lab tenant's AZURE_TENANT_ID (unless their service account names
// another), AZURE_AUTHORITY_HOST=https://login.microsoftonline.com/ (which
// cluster DNS sends to the emulator) and the projected token.
func deployAzureWebhook(ctx context.Context, cs kubernetes.Interface, ca *certs.CA, image string) error {
	if err := deployWebhookServer(ctx, cs, ca, azurewebhook.Name, azurewebhook.ServiceHosts(SystemNamespace),
		azurewebhook.TLSSecret, azurewebhook.Manifests(image, SystemNamespace, ca.PEM),
		"--tenant-id="+AzureTenantID); err != nil {
		return err
	}
	return waitMutates(ctx, cs, azureCheck(), webhookWait, time.Second)
}

// azureCheck: a labelled pod whose ServiceAccount names a client ID gets
// AZURE_CLIENT_ID.
func azureCheck() webhookCheck {
	return newWebhookCheck(ComponentAzureWebhook, "the Azure workload identity webhook",
		map[string]string{azurewebhook.ClientIDAnnotation: "00000000-0000-4000-8000-000000000000"},
		map[string]string{azurewebhook.UseLabel: "true"}, hasEnv(azurewebhook.ClientIDEnv))
}
