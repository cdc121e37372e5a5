package harness

import (
	"context"
	"time"

	"github.com/idlab/idlab/components/irsawebhook"
)

// ComponentIRSAWebhook is the EKS pod identity webhook (IRSA).
const ComponentIRSAWebhook = "irsa-webhook"

// irsaWebhook runs `idlab irsa-webhook` as EKS runs the pod identity
// webhook: with the cluster's region and regional STS endpoints.
type irsaWebhook struct{}

func (irsaWebhook) Name() string    { return ComponentIRSAWebhook }
func (irsaWebhook) Cluster() string { return "eks" }

func (irsaWebhook) Deploy(ctx context.Context, d *deployer) error {
	if err := deployWebhookServer(ctx, d.cs, d.ca, irsawebhook.Name, irsawebhook.ServiceHosts(irsawebhook.Name, SystemNamespace),
		irsawebhook.TLSSecret, irsawebhook.Manifests(d.image, SystemNamespace, d.ca.PEM),
		"--aws-default-region="+d.cluster.Region, "--sts-regional-endpoint=true"); err != nil {
		return err
	}
	return waitMutates(ctx, d.cs, irsaCheck(), webhookWait, time.Second)
}

// irsaCheck: an annotated ServiceAccount's pod gets AWS_ROLE_ARN.
func irsaCheck() webhookCheck {
	return newWebhookCheck(ComponentIRSAWebhook, "the IRSA webhook",
		map[string]string{irsawebhook.AnnotationRoleARN: "arn:aws:iam::000000000000:role/idlab-ready"}, nil, hasEnv(irsawebhook.EnvRoleARN))
}
