package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/idlab/idlab/components/gtoken"
)

// ComponentGToken is the gtoken webhook (GKE to AWS).
const ComponentGToken = "gtoken"

// gtokenWebhook runs the gtoken webhook; the token writer it injects is the
// idlab binary installed as /gtoken in an image of its own.
type gtokenWebhook struct{}

func (gtokenWebhook) Name() string    { return ComponentGToken }
func (gtokenWebhook) Cluster() string { return "gke" }

func (gtokenWebhook) Deploy(ctx context.Context, d *deployer) error {
	writer, err := scratchImage(ctx, "idlab/gtoken", d.idlabBinary, "gtoken")
	if err != nil {
		return err
	}
	if err := d.images.LoadImages(ctx, d.cluster.Name, writer); err != nil {
		return fmt.Errorf("load %s: %w", writer, err)
	}
	if err := deployWebhookServer(ctx, d.cs, d.ca, gtoken.Name, gtoken.ServiceHosts(SystemNamespace),
		gtoken.TLSSecret, gtoken.Manifests(d.image, writer, SystemNamespace, d.ca.PEM)); err != nil {
		return err
	}
	return waitMutates(ctx, d.cs, gtokenCheck(), webhookWait, time.Second)
}

// gtokenCheck: an annotated ServiceAccount's pod gets AWS_ROLE_ARN (with
// the Google ID token's file and containers).
func gtokenCheck() webhookCheck {
	return newWebhookCheck(ComponentGToken, "the gtoken webhook",
		map[string]string{gtoken.AnnotationRoleARN: "arn:aws:iam::000000000000:role/idlab-ready"}, nil, hasEnv(gtoken.EnvRoleARN))
}
