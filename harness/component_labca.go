package harness

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/labca"
)

// ComponentLabCA is the lab CA webhook: pods of namespaces labelled
// idlab.dev/lab-ca=enabled trust the lab CA with no change of their own.
const ComponentLabCA = "lab-ca"

// labCA runs `idlab lab-ca-webhook` in every cluster, whatever its
// flavour: it stands for no cloud component (a real cloud's certificates
// chain to public roots) and acts only in labelled namespaces, so the
// other components' behaviour is unchanged. The bundle is the cluster
// node's own system roots (Debian's ca-certificates in the lab's node
// image, labca.SystemRootsFile) followed by the lab CA; a node without
// that file gives a bundle of the lab CA alone, said on the progress line.
type labCA struct{}

func (labCA) Name() string    { return ComponentLabCA }
func (labCA) Cluster() string { return "" }

func (labCA) Deploy(ctx context.Context, d *deployer) error {
	roots, err := d.nodeRoots(ctx, d.cluster.Name)
	if err != nil {
		return fmt.Errorf("system roots of the node: %w", err)
	}
	b, err := labca.Assemble(roots, d.ca.PEM)
	if err != nil {
		return err
	}
	if b.Roots == 0 {
		fmt.Fprintf(d.progress, "idlab: cluster %s: its node has no %s: the lab CA bundle holds the lab CA only\n", d.cluster.Name, labca.SystemRootsFile)
	}
	if err := deployWebhookServer(ctx, d.cs, d.ca, labca.Name, labca.ServiceHosts(SystemNamespace),
		labca.TLSSecret, labca.Manifests(d.image, SystemNamespace, d.ca.PEM, b)); err != nil {
		return err
	}
	return waitMutates(ctx, d.cs, labCACheck(), webhookWait, time.Second)
}

// labCACheckNamespace is the labelled namespace of the readiness check's
// dry-run pod (the webhook acts in labelled namespaces only, and
// SystemNamespace is not one).
const labCACheckNamespace = "idlab-ready-lab-ca"

// labCACheck: a pod of a labelled namespace gets SSL_CERT_FILE.
func labCACheck() webhookCheck {
	c := newWebhookCheck(ComponentLabCA, "the lab CA webhook", nil, nil, hasEnv("SSL_CERT_FILE"))
	c.ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: labCACheckNamespace, Labels: map[string]string{labca.NamespaceLabel: labca.NamespaceEnabled}}}
	c.sa.Namespace, c.pod.Namespace = labCACheckNamespace, labCACheckNamespace
	return c
}

// nodeSystemRoots reads labca.SystemRootsFile from a node of cluster;
// a node without the file has none (empty, no error).
func nodeSystemRoots(ctx context.Context, cluster string) ([]byte, error) {
	out, err := docker(ctx, nil, "ps", "-q", "--filter", "label=io.x-k8s.kind.cluster="+cluster)
	if err != nil {
		return nil, err
	}
	nodes := strings.Fields(out)
	if len(nodes) == 0 {
		return nil, fmt.Errorf("no node containers of cluster %s", cluster)
	}
	if _, err := docker(ctx, nil, "exec", nodes[0], "test", "-f", labca.SystemRootsFile); err != nil {
		return nil, nil
	}
	pem, err := docker(ctx, nil, "exec", nodes[0], "cat", labca.SystemRootsFile)
	if err != nil {
		return nil, err
	}
	return []byte(pem + "\n"), nil
}
