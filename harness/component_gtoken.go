package harness

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/idlab/idlab/components/gtoken"
)

// ComponentGToken is the gtoken webhook (GKE to AWS).
const ComponentGToken = "gtoken"

// gtokenWebhook runs the gtoken webhook; the token writer it injects is
// cmd/gtoken installed as /gtoken in an image of its own.
type gtokenWebhook struct{}

// maxGTokenBinary bounds the token writer's size: the webhook gives the
// injected containers upstream's 50Mi memory limit and 20m CPU, under
// which a binary near or above that size is faulted in for minutes on a
// node that has not cached it (the whole idlab binary, ~90 MB, held
// pods in PodInitializing for over 3 minutes).
const maxGTokenBinary = 16 << 20

// checkGTokenBinary refuses a token writer that is missing or too big
// for the limits it runs under, saying how to build the right one.
func checkGTokenBinary(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("gtoken token writer: %w (make build writes bin/gtoken beside bin/idlab; CGO_ENABLED=0 go build -o PATH ./cmd/gtoken)", err)
	}
	if fi.Size() > maxGTokenBinary {
		return fmt.Errorf("gtoken token writer %s is %d MiB, over %d MiB: the injected containers run under a 50Mi memory limit, so it must be cmd/gtoken, not the idlab binary",
			path, fi.Size()>>20, maxGTokenBinary>>20)
	}
	return nil
}

func (gtokenWebhook) Name() string    { return ComponentGToken }
func (gtokenWebhook) Cluster() string { return "gke" }

func (gtokenWebhook) Deploy(ctx context.Context, d *deployer) error {
	if err := checkGTokenBinary(d.gtokenBinary); err != nil {
		return err
	}
	writer, err := scratchImage(ctx, "idlab/gtoken", d.gtokenBinary, "gtoken")
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
