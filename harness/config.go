package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/idlab/idlab/harness/cni"
	"github.com/idlab/idlab/harness/labfile"
)

// ClusterConfig names one lab cluster and its issuer.
type ClusterConfig struct {
	Name string
	// Flavour is the managed Kubernetes the cluster stands for: eks, gke
	// or aks (labfile.EKS ...).
	Flavour   string
	IssuerURL string
	Region    string
	// Account (eks), Project (gke) and Tenant (aks) are the cloud account
	// the cluster belongs to. The lab registers an IAM OIDC provider for
	// an eks cluster's issuer in Account; the GKE metadata server reports
	// Project; the Azure webhook injects Tenant.
	Account string
	Project string
	Tenant  string
	// Components are the pod-identity components the lab deploys into the
	// cluster (ComponentIRSAWebhook ...), as the managed service would run
	// them.
	Components []string
	// NodeRoleARN makes the cluster's nodes EC2 instances with this
	// instance profile role: the lab serves their instance metadata at
	// 169.254.169.254 (see nodeimds.go). Empty: no instance metadata.
	NodeRoleARN string
	// NodeRoles, when set, gives node i the instance profile role
	// NodeRoles[i] instead of NodeRoleARN (nodes of separate node groups);
	// an empty or missing entry is NodeRoleARN.
	NodeRoles []string
	// Nodes is the number of nodes (NodeCount); 0 and 1 are one node.
	// Node 0 is kind's control plane, the others its workers.
	Nodes int
	// PinnedWorkers taints the nodes after the first so that only the
	// lab's node agents and pods bound to them (spec.nodeName, or a
	// toleration of PinnedTaintKey) run there: the single-node suites keep
	// their node while multi-node rows pin pods to a worker.
	PinnedWorkers bool
	// Kubeconfig, when set, makes the cluster an existing one (see
	// existing.go): reached with this kubeconfig file and its Context
	// (empty: its current one), never created or deleted; its issuer is
	// its own, read when the lab comes up (IssuerURL is then empty).
	// KindCluster is its kind name when it is a kind cluster, for
	// loading images.
	Kubeconfig  string
	Context     string
	KindCluster string
}

// NodeCount is how many nodes the cluster has: Nodes, at least one.
func (c ClusterConfig) NodeCount() int { return max(c.Nodes, 1) }

// NodeRole is node i's instance profile role: NodeRoles[i] when set,
// else NodeRoleARN ("" for none).
func (c ClusterConfig) NodeRole(i int) string {
	if i >= 0 && i < len(c.NodeRoles) && c.NodeRoles[i] != "" {
		return c.NodeRoles[i]
	}
	return c.NodeRoleARN
}

// Config configures the lab. Environment (read by ConfigFromEnv):
//
//	IDLAB_STATE_DIR  where keys, the CA and lab.json live. Defaults to .idlab
//	IDLAB_PORT       host port of the emulator on 127.0.0.1. Defaults to 8443
//	IDLAB_CLUSTERS   comma-separated cluster names. Defaults to eks,gke,aks
//	IDLAB_CNI        the pod network: bridge, ptp or kindnet (see CNI)
//
// A lab file (LoadLabFile) names the clusters instead of IDLAB_CLUSTERS.
type Config struct {
	StateDir string
	Clusters []ClusterConfig
	// LabFile is the lab file Clusters came from ("" for the default lab):
	// Up keeps a copy in the state dir (RememberedLabFile), so the lab
	// commands find the same clusters without -f.
	LabFile     string
	KindConfig  string // Empty: ./kind-config.yaml when present, else cluster.DefaultTemplate.
	FixturesDir string // Defaults to fixtures/aws.
	HostPort    int    // Defaults to 8443.
	// IdlabBinary is the static idlab binary put in the emulator image.
	// Defaults to this executable, which must be statically linked.
	IdlabBinary string
	// ProbeBinary is the static SDK probe put in the probe image; empty skips it.
	ProbeBinary string
	// ProbeImage, for an existing kind cluster, is a probe image Docker
	// has already (another lab's), loaded instead of one built from
	// ProbeBinary.
	ProbeImage string
	// GTokenBinary is the static gtoken token writer (cmd/gtoken) put in
	// the image the gtoken webhook injects. Defaults to gtoken beside
	// IdlabBinary (make build writes bin/gtoken beside bin/idlab).
	GTokenBinary string
	// PyClient builds (once per machine) and loads PyClientImage into the
	// clusters whose pods get AWS identities (IRSA webhook, gtoken).
	PyClient bool
	// ToolClient builds (once per machine) and loads the third-party
	// client images: ToolClientImage (rclone) into every cluster,
	// AzClientImage (azure-cli) into the clusters whose pods get Azure
	// identities (Azure Workload Identity webhook).
	ToolClient bool
	// CNI is the clusters' pod network (package cni): bridge (the offline
	// node image's cni0), ptp (a veth per pod, no bridge, as kindnet) or
	// kindnet (kindest/node only). The pod-identity components follow it
	// (kube2iam's --host-interface). Defaults to kindnet on a kindest/node
	// image, else bridge.
	CNI cni.Name
	// EmulatorImage is the idlab image the emulator and the components
	// run in an existing cluster: one the user pushed where the cluster
	// pulls from. Defaults to one built from IdlabBinary and loaded with
	// kind, for a kind cluster.
	EmulatorImage string
	Progress      io.Writer    // one line per step; Defaults to discard.
	Log           *slog.Logger // Defaults to discard.
}

// Names of the lab's Docker objects.
const (
	EmulatorContainer = "idlab-emulator"
	KindNetwork       = "kind"
)

// The lab's Google project (fixtures/gcp names it; its workload identity
// pool is GoogleProject.svc.id.goog).
const (
	GoogleProject       = "idlab"
	GoogleProjectNumber = "123456789012"
	// GoogleNodeServiceAccount is the gke node's identity, what hostNetwork
	// pods get from the metadata server.
	GoogleNodeServiceAccount = "gke-node@" + GoogleProject + ".iam.gserviceaccount.com"
)

// The lab's Entra tenant and storage account (fixtures/azure names them);
// the aks cluster's issuer lives under the tenant, as AKS issuers do.
const (
	AzureTenantID       = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	AzureStorageAccount = "idlab"
)

// LabAccount is the lab's AWS account (fixtures/aws/lab.yaml): the eks
// clusters' unless a lab file names another.
const LabAccount = "123456789012"

// IssuerID derives the EKS-style issuer ID of a cluster: 32 upper-case hex
// characters, stable per cluster name so fixtures can name the issuer.
func IssuerID(cluster string) string {
	sum := sha256.Sum256([]byte("idlab/" + cluster))
	return strings.ToUpper(hex.EncodeToString(sum[:16]))
}

// LabRegion is the AWS region of the lab: its EKS-style clusters' and the
// emulator's (which the harness passes in its serve config; `idlab serve`
// alone defaults to cloud.DefaultRegion).
const LabRegion = "us-west-2"

// DefaultCluster returns the lab's configuration for a known cluster name:
// EKS-style issuers for eks*, GKE-style for gke*, Azure-style for aks*.
// eks and gke clusters get a second, pinned node (DefaultNodes) for the
// multi-node rows, an eks one with its own role, NodeRole2.
func DefaultCluster(name string) ClusterConfig {
	c := newCluster(name, clusterKind(name), defaultRegion(clusterKind(name)))
	switch c.Flavour {
	case labfile.EKS:
		c.Nodes, c.PinnedWorkers = DefaultNodes, true
		c.NodeRoles = []string{c.NodeRoleARN, nodeRole2In(c.Account)}
	case labfile.GKE:
		c.Nodes, c.PinnedWorkers = DefaultNodes, true
	}
	return c
}

// DefaultNodes is the nodes of the default lab's eks and gke clusters: the
// control plane, where every pod runs that asks for no node, and one
// pinned worker with its own node agents (multi-node rows: scenarios/multinode).
const DefaultNodes = 2

// defaultRegion is the region of a default cluster of flavour.
func defaultRegion(flavour string) string {
	switch flavour {
	case labfile.GKE:
		return "us-central1"
	case labfile.AKS:
		return "westus2"
	}
	return LabRegion
}

// newCluster is the lab's configuration of a cluster of flavour in region:
// the lab's account, project or tenant, the flavour's issuer shape, its
// components and, for eks, the nodes' instance profile role.
func newCluster(name, flavour, region string) ClusterConfig {
	c := ClusterConfig{Name: name, Flavour: flavour, Region: region, Components: defaultComponents(flavour)}
	switch flavour {
	case labfile.GKE:
		c.Project = GoogleProject
	case labfile.AKS:
		c.Tenant = AzureTenantID
	default:
		c.Account = LabAccount
		c.NodeRoleARN = nodeRoleIn(c.Account)
	}
	c.IssuerURL = defaultIssuer(c)
	return c
}

// defaultIssuer is the issuer URL of c's flavour, shaped as the managed
// service shapes it: EKS's oidc.eks.REGION.amazonaws.com/id/ID, GKE's
// container.googleapis.com/v1/projects/P/locations/L/clusters/C, AKS's
// REGION.oic.prod-aks.azure.com/TENANT/ID/.
func defaultIssuer(c ClusterConfig) string {
	switch c.Flavour {
	case labfile.GKE:
		return "https://container.googleapis.com/v1/projects/" + c.Project + "/locations/" + c.Region + "/clusters/" + c.Name
	case labfile.AKS:
		return "https://" + c.Region + ".oic.prod-aks.azure.com/" + c.Tenant + "/" + IssuerID(c.Name) + "/"
	}
	return "https://oidc.eks." + c.Region + ".amazonaws.com/id/" + IssuerID(c.Name)
}

// nodeRoleIn is the eks nodes' instance profile role in account: eks-node,
// as fixtures/aws/lab.yaml names it in the lab's account.
func nodeRoleIn(account string) string { return "arn:aws:iam::" + account + ":role/eks-node" }

// nodeRole2In is the default eks cluster's second node's role in account,
// eks-node-2: a node of another node group (fixtures/aws/lab.yaml).
func nodeRole2In(account string) string { return "arn:aws:iam::" + account + ":role/eks-node-2" }

// DefaultKindConfig is the kind template the lab reads from the working
// directory when Config.KindConfig is empty.
const DefaultKindConfig = "kind-config.yaml"

// ConfigFromEnv fills a Config from the environment and defaults.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{StateDir: getenv("IDLAB_STATE_DIR"), HostPort: 8443}
	if c.StateDir == "" {
		c.StateDir = ".idlab"
	}
	if p := getenv("IDLAB_PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return c, fmt.Errorf("IDLAB_PORT %q: want a port number", p)
		}
		c.HostPort = n
	}
	net, err := cni.Parse(getenv("IDLAB_CNI"))
	if err != nil {
		return c, fmt.Errorf("IDLAB_CNI: %w", err)
	}
	c.CNI = net
	names := getenv("IDLAB_CLUSTERS")
	if names == "" {
		names = "eks,gke,aks"
	}
	for _, n := range strings.Split(names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			c.Clusters = append(c.Clusters, DefaultCluster(n))
		}
	}
	return c, nil
}

func (c Config) withDefaults() Config {
	if c.StateDir == "" {
		c.StateDir = ".idlab"
	}
	if c.FixturesDir == "" {
		c.FixturesDir = "fixtures/aws"
	}
	if c.HostPort == 0 {
		c.HostPort = 8443
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.IdlabBinary == "" {
		if exe, err := os.Executable(); err == nil {
			c.IdlabBinary = exe
		}
	}
	if c.GTokenBinary == "" && c.IdlabBinary != "" {
		c.GTokenBinary = filepath.Join(filepath.Dir(c.IdlabBinary), "gtoken")
	}
	return c
}

// withDefaults fills what a hand-made ClusterConfig leaves out: its flavour
// from its name (as DefaultCluster reads it) and the lab's account,
// project or tenant.
func (c ClusterConfig) withDefaults() ClusterConfig {
	if c.Flavour == "" {
		c.Flavour = clusterKind(c.Name)
	}
	switch {
	case c.Flavour == labfile.EKS && c.Account == "":
		c.Account = LabAccount
	case c.Flavour == labfile.GKE && c.Project == "":
		c.Project = GoogleProject
	case c.Flavour == labfile.AKS && c.Tenant == "":
		c.Tenant = AzureTenantID
	}
	return c
}
