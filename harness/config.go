package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/idlab/idlab/harness/cni"
)

// ClusterConfig names one lab cluster and its issuer.
type ClusterConfig struct {
	Name      string
	IssuerURL string
	Region    string
	// Components are the pod-identity components the lab deploys into the
	// cluster (ComponentIRSAWebhook ...), as the managed service would run
	// them.
	Components []string
	// NodeRoleARN makes the cluster's nodes EC2 instances with this
	// instance profile role: the lab serves their instance metadata at
	// 169.254.169.254 (see nodeimds.go). Empty: no instance metadata.
	NodeRoleARN string
}

// Config configures the lab. Environment (read by ConfigFromEnv):
//
//	IDLAB_STATE_DIR  where keys, the CA and lab.json live. Defaults to .idlab
//	IDLAB_PORT       host port of the emulator on 127.0.0.1. Defaults to 8443
//	IDLAB_CLUSTERS   comma-separated cluster names. Defaults to eks,gke,aks
//	IDLAB_CNI        the pod network: bridge, ptp or kindnet (see CNI)
type Config struct {
	StateDir    string
	Clusters    []ClusterConfig
	KindConfig  string // Empty: ./kind-config.yaml when present, else cluster.DefaultTemplate.
	FixturesDir string // Defaults to fixtures/aws.
	HostPort    int    // Defaults to 8443.
	// IdlabBinary is the static idlab binary put in the emulator image.
	// Defaults to this executable, which must be statically linked.
	IdlabBinary string
	// ProbeBinary is the static SDK probe put in the probe image; empty skips it.
	ProbeBinary string
	// PyClient builds (once per machine) and loads PyClientImage into the
	// clusters whose pods get AWS identities (IRSA webhook, gtoken).
	PyClient bool
	// CNI is the clusters' pod network (package cni): bridge (the offline
	// node image's cni0), ptp (a veth per pod, no bridge, as kindnet) or
	// kindnet (kindest/node only). The pod-identity components follow it
	// (kube2iam's --host-interface). Defaults to kindnet on a kindest/node
	// image, else bridge.
	CNI      cni.Name
	Progress io.Writer    // one line per step; Defaults to discard.
	Log      *slog.Logger // Defaults to discard.
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
func DefaultCluster(name string) ClusterConfig {
	switch {
	case strings.HasPrefix(name, "gke"):
		return ClusterConfig{Name: name, Region: "us-central1",
			IssuerURL:  "https://container.googleapis.com/v1/projects/" + GoogleProject + "/locations/us-central1/clusters/" + name,
			Components: defaultComponents(clusterKind(name))}
	case strings.HasPrefix(name, "aks"):
		return ClusterConfig{Name: name, Region: "westus2",
			IssuerURL:  "https://westus2.oic.prod-aks.azure.com/" + AzureTenantID + "/" + IssuerID(name) + "/",
			Components: defaultComponents(clusterKind(name))}
	}
	return ClusterConfig{Name: name, Region: LabRegion, IssuerURL: "https://oidc.eks." + LabRegion + ".amazonaws.com/id/" + IssuerID(name),
		Components: defaultComponents(clusterKind(name)), NodeRoleARN: NodeRole}
}

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
	return c
}
