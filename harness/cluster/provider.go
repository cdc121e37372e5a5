// Package cluster creates and deletes the lab's Kubernetes clusters behind one
// Provider interface; the kind implementation drives sigs.k8s.io/kind as a
// library with a typed v1alpha4 config.
package cluster

import (
	"context"
	"io"
)

// Spec is one cluster to create.
type Spec struct {
	Name string
	// NodeImage is the kind node image.
	NodeImage string
	// IssuerURL is the service-account issuer kube-apiserver puts in tokens.
	IssuerURL string
	// JWKSURL is published as --service-account-jwks-uri.
	JWKSURL string
	// SigningKeyFile and PublicKeysFile are mounted over kubeadm's
	// /etc/kubernetes/pki/sa.key and sa.pub, so kube-apiserver signs with the
	// lab's key and verifies with every key in PublicKeysFile (rotation).
	SigningKeyFile string
	PublicKeysFile string
	// DisableDefaultCNI keeps kind from installing kindnet: the pod network
	// is the node image's static conflist or CNIConfigFile. It overrides
	// the template's networking.disableDefaultCNI.
	DisableDefaultCNI bool
	// CNIConfigFile, when set, is a CNI conflist on the host mounted into
	// every node's /etc/cni/net.d under its own file name (read-only), so
	// containerd uses it when that name sorts first.
	CNIConfigFile string
	// NodeLabels are added to every node's labels.
	NodeLabels map[string]string
	// Nodes, when set, is how many nodes the cluster has: one control
	// plane (the template's first) and Nodes-1 workers (copies of the
	// template's first worker, or plain ones). 0 keeps the template's.
	Nodes int
	// CNIConfigDirs, when set, holds one host directory per node, in node
	// order, mounted as that node's CNIConfigDir (replacing CNIConfigFile
	// and the image's own conflists): the lab writes each node's conflist
	// there once the node has its pod CIDR, as kindnet writes its own.
	CNIConfigDirs []string
	// NoReadyWait skips kind's wait for a Ready control plane: with
	// CNIConfigDirs no node is Ready until the lab writes its conflist,
	// after Create.
	NoReadyWait bool
}

// CNIConfigDir is where a node's containerd reads CNI configurations.
const CNIConfigDir = "/etc/cni/net.d"

// Provider manages clusters. Every method that does I/O takes a context.
type Provider interface {
	// Create makes the cluster and waits until its control plane is ready.
	Create(ctx context.Context, spec Spec) error
	// Delete removes the cluster; deleting a missing cluster is not an error.
	Delete(ctx context.Context, name string) error
	// List names the clusters that exist.
	List(ctx context.Context) ([]string, error)
	// Kubeconfig returns a kubeconfig reaching the cluster from the host.
	Kubeconfig(ctx context.Context, name string) ([]byte, error)
	// LoadImages copies images from the local Docker daemon into the nodes.
	LoadImages(ctx context.Context, name string, images ...string) error
	// CollectLogs exports node and pod logs to dir.
	CollectLogs(ctx context.Context, name, dir string) error
}

// Progress receives one line per step; nil discards.
type Progress = io.Writer
