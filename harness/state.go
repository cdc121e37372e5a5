package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/harness/cluster"
	"github.com/idlab/idlab/harness/podforward"
	"github.com/idlab/idlab/internal/atomicfile"
	"github.com/idlab/idlab/internal/decisionlog"
)

// StateFile is the name of the lab description inside the state dir.
const StateFile = "lab.json"

// ErrNoLab means no lab is up in the state dir.
var ErrNoLab = errors.New("no lab is up (run `idlab up` or `make e2e`)")

// State describes a running lab; `idlab up` writes it, scenarios read it.
type State struct {
	Dir string `json:"-"`
	// EmulatorURL reaches `idlab serve` from the host (https://127.0.0.1:PORT).
	EmulatorURL string `json:"emulatorURL"`
	// EmulatorIP is the emulator's address on kind's Docker network, where
	// cluster DNS sends the cloud host names.
	EmulatorIP string `json:"emulatorIP"`
	// CAFile is the lab CA bundle (PEM) every client must trust.
	CAFile string `json:"caFile"`
	// AdminAddr is the emulator's admin API from the host: "unix:PATH", a
	// socket in the state dir, which nothing on kind's network reaches.
	AdminAddr string `json:"adminAddr"`
	// AdminSecretFile holds the bearer secret of the admin API (0600).
	AdminSecretFile string `json:"adminSecretFile"`
	// ProbeImage is the SDK probe image loaded into every cluster.
	ProbeImage string `json:"probeImage,omitempty"`
	// PyClientImage is the image of Debian's awscli and boto3
	// (PyClientImage), loaded into the clusters whose pods get AWS identities; empty unless the lab
	// was brought up with it.
	PyClientImage string `json:"pyclientImage,omitempty"`
	// ToolClientImage is the image of Debian's rclone (ToolClientImage),
	// loaded into every cluster, and AzClientImage that of Debian's
	// azure-cli (AzClientImage), loaded into the clusters whose pods get
	// Azure identities; empty unless the lab was brought up with
	// --toolclient.
	ToolClientImage string `json:"toolclientImage,omitempty"`
	AzClientImage   string `json:"azclientImage,omitempty"`
	// CNI is the clusters' pod network (package cni) and PodInterface the
	// iptables -i match of pods' host interfaces on it (kube2iam's
	// --host-interface).
	CNI          string `json:"cni,omitempty"`
	PodInterface string `json:"podInterface,omitempty"`
	// Clusters by name.
	Clusters map[string]ClusterState `json:"clusters"`
	// LabFile is the lab file the lab was brought up from (its absolute
	// path); empty for the default lab. Up keeps a copy in the state dir
	// (RememberedLabFile) that the lab commands read.
	LabFile string `json:"labFile,omitempty"`
	// EmulatorImage is the idlab image the emulator and the components
	// run.
	EmulatorImage string `json:"emulatorImage,omitempty"`
	// Forward, set when the emulator runs inside an existing cluster, is
	// how the host reaches it: HTTPClient and AdminClient dial its pod's
	// ports through the API server's port-forward, and EmulatorURL and
	// AdminAddr are then only names for requests (no host port exists).
	Forward *Forward `json:"forward,omitempty"`
}

// Forward locates the emulator's pod in an existing cluster.
type Forward struct {
	// Kubeconfig reaches the cluster (its context is the current one).
	Kubeconfig string `json:"kubeconfig"`
	Namespace  string `json:"namespace"`
	Selector   string `json:"selector"`
	// CloudPort is the pod's cloud-plane port (HTTPS); AdminPort the
	// admin API's, on the pod's loopback.
	CloudPort int `json:"cloudPort"`
	AdminPort int `json:"adminPort"`
}

// ClusterState is one lab cluster.
type ClusterState struct {
	Name       string `json:"name"`
	IssuerURL  string `json:"issuerURL"`
	Kubeconfig string `json:"kubeconfig"`
	Region     string `json:"region"`
	// Nodes are the cluster's nodes (and their containers), as kind names
	// them: the control plane first, then the workers (ClusterNodes).
	Nodes []string `json:"nodes,omitempty"`
}

// NodeNames are the cluster's nodes: Nodes, or, in the state of a lab made
// before it was written, the one node NAME-control-plane.
func (c ClusterState) NodeNames() []string {
	if len(c.Nodes) > 0 {
		return c.Nodes
	}
	return []string{c.Name + "-control-plane"}
}

// ClusterNodes are the names kind gives c's nodes, in node order.
func ClusterNodes(c ClusterConfig) []string {
	var out []string
	for i := range c.NodeCount() {
		out = append(out, cluster.NodeName(c.Name, i))
	}
	return out
}

// Open reads the state of the lab in dir.
func Open(dir string) (*State, error) {
	raw, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoLab)
	}
	if err != nil {
		return nil, fmt.Errorf("read lab state: %w", err)
	}
	var s State
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("parse lab state %s: %w", filepath.Join(dir, StateFile), err)
	}
	s.Dir = dir
	return &s, nil
}

func (s *State) write(dir string) error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, StateFile), raw, 0o644); err != nil {
		return fmt.Errorf("lab state: %w", err)
	}
	return nil
}

// CAPEM returns the lab CA bundle.
func (s *State) CAPEM() ([]byte, error) {
	b, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read lab CA: %w", err)
	}
	return b, nil
}

// HTTPClient trusts the lab CA: the host's client of the emulator's cloud
// APIs at EmulatorURL (through a port-forward when the emulator runs in
// an existing cluster).
func (s *State) HTTPClient() (*http.Client, error) {
	c, err := CAClient(s.CAFile)
	if err != nil || s.Forward == nil {
		return c, err
	}
	dial, err := s.Forward.dialer(s.Forward.CloudPort)
	if err != nil {
		return nil, err
	}
	c.Transport.(*http.Transport).DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }
	return c, nil
}

// dialer dials port of the emulator's pod through the API server.
func (f *Forward) dialer(port int) (func(ctx context.Context) (net.Conn, error), error) {
	rc, err := clientcmd.BuildConfigFromFlags("", f.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("the emulator's cluster: kubeconfig %s: %w", f.Kubeconfig, err)
	}
	d, err := podforward.New(rc)
	if err != nil {
		return nil, err
	}
	t := podforward.Target{Namespace: f.Namespace, Selector: f.Selector, Port: port}
	return func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, t) }, nil
}

// CAClient is an HTTP client trusting the CA bundle in caFile (the lab
// CA, DATA/ca.pem of an idlab serve).
func CAClient(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read lab CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("lab CA file holds no certificate")
	}
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

// Decision is one entry of the lab's decision log, whichever emulator
// wrote it; DecisionFilter selects entries (zero fields match all).
type (
	Decision       = decisionlog.Entry
	DecisionFilter = decisionlog.Filter
)

// Decisions reads the entries of the lab's decision log that f selects,
// oldest first. Page with f.Since: the Seq of the last entry read.
func (s *State) Decisions(ctx context.Context, f DecisionFilter) ([]Decision, error) {
	ds := []Decision{}
	if err := s.getJSON(ctx, "/_idlab/decisions?"+f.Query().Encode(), &ds); err != nil {
		return nil, err
	}
	return ds, nil
}

// getJSON GETs an admin path of the emulator into v.
func (s *State) getJSON(ctx context.Context, path string, v any) error {
	return s.Admin(ctx, http.MethodGet, path, nil, v)
}

// AdminClient is a client of the emulator's admin API presenting the
// lab's secret, and the base URL its paths go after.
func (s *State) AdminClient() (*http.Client, string, error) {
	if s.AdminAddr == "" || s.AdminSecretFile == "" {
		return nil, "", errors.New("the lab state names no admin API (written by an older idlab): run `idlab up` again")
	}
	secret, err := cloud.ReadAdminSecret(s.AdminSecretFile)
	if err != nil {
		return nil, "", err
	}
	if s.Forward != nil {
		dial, err := s.Forward.dialer(s.Forward.AdminPort)
		if err != nil {
			return nil, "", err
		}
		return cloud.NewAdminClientDial(dial, secret), "http://" + s.AdminAddr, nil
	}
	return cloud.NewAdminClient(s.AdminAddr, secret)
}

// Admin sends method to an admin path of the emulator (/_idlab/...) with
// body as JSON (nil for none) and decodes a 2xx answer into out (nil to
// discard it); any other status is an error carrying the answer.
func (s *State) Admin(ctx context.Context, method, path string, body, out any) error {
	c, base, err := s.AdminClient()
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, raw)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}
