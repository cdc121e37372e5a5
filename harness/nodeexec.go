package harness

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// NodeExec runs args in the container of node, a node of the lab's kind
// cluster (kind names each node's container after the node), and returns
// its standard output, trimmed: the scenarios' reach into a node's own
// state that no Kubernetes API shows, such as the CNI's IPAM files
// (scenarios/kit/hostlocal). A node that is not one container of cluster
// is an error.
func NodeExec(ctx context.Context, cluster, node string, args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("node exec: no command")
	}
	out, err := docker(ctx, nil, nodeContainerQuery(cluster, node)...)
	if err != nil {
		return "", fmt.Errorf("find node %s of cluster %s: %w", node, cluster, err)
	}
	ids := strings.Fields(out)
	if len(ids) != 1 {
		return "", fmt.Errorf("node %s of cluster %s: %d containers match, want 1", node, cluster, len(ids))
	}
	return docker(ctx, nil, append([]string{"exec", ids[0]}, args...)...)
}

// nodeContainerQuery is the docker ps that lists the ID of node's
// container in cluster: its kind cluster label, and its name exactly
// (Docker matches the name filter as a regular expression, against the
// name with or without its leading slash).
func nodeContainerQuery(cluster, node string) []string {
	return []string{"ps", "-q", "--filter", "label=io.x-k8s.kind.cluster=" + cluster, "--filter", "name=^/?" + regexp.QuoteMeta(node) + "$"}
}
