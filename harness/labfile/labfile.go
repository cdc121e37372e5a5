// Package labfile reads a lab file (idlab.yaml): the clusters a lab makes,
// each with its flavour, issuer, region, cloud account and components, so a
// user can bring up the clusters of their own trust policies. It parses
// and validates strictly (unknown fields are errors at their line); the
// harness fills in what a cluster leaves out.
package labfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/internal/fixtureyaml"
	"github.com/idlab/idlab/internal/lazyre"
)

// The document's apiVersion and kind.
const (
	APIVersion = "idlab.dev/v1alpha1"
	Kind       = "Lab"
)

// Flavours: the managed Kubernetes a cluster stands for.
const (
	EKS = "eks"
	GKE = "gke"
	AKS = "aks"
)

// Flavours lists the flavours in the order errors name them.
var Flavours = []string{EKS, GKE, AKS}

// MaxSize bounds a lab file; a real one is a few kilobytes.
const MaxSize = 1 << 20

// MaxNodes bounds a cluster's nodes: each is a kind node container of
// about half a GiB, and the lab's machines have a few cores; past a
// handful a lab tests nothing more about identity.
const MaxNodes = 8

// Error is a bad lab file, located at file:line.
type Error = fixtureyaml.Error

// File is a parsed lab file.
type File struct {
	// Name is the file as given, for messages.
	Name     string
	Clusters []Cluster
}

// Cluster is one cluster of a lab file as written: empty fields are the
// ones it left out (the harness fills them in).
type Cluster struct {
	Name    string
	Flavour string
	// Issuer is the service-account issuer URL; empty: the flavour's
	// lab-style issuer.
	Issuer string
	Region string
	// Account (eks), Project (gke) and Tenant (aks) name the cloud
	// account the cluster belongs to; empty: the lab's.
	Account string
	Project string
	Tenant  string
	// NodeRole is the eks nodes' instance profile role; empty: the lab's.
	NodeRole string
	// NodeRoles, when given, is each eks node's instance profile role in
	// node order (one per node, as nodes in separate node groups have
	// their own roles); it replaces NodeRole.
	NodeRoles []string
	// Nodes is the number of nodes, 1 to MaxNodes: the first is kind's
	// control plane, the others its workers. Defaults to 1.
	Nodes int
	// PinnedWorkers keeps the pods that do not ask for them off the nodes
	// after the first: those carry a NoSchedule taint that only the lab's
	// node agents tolerate, so a pod runs there when bound to the node
	// (spec.nodeName) or tolerating the taint. Needs nodes >= 2.
	PinnedWorkers bool
	// Components turn the flavour's components on or off, in file order.
	Components []Toggle
	// Kubeconfig, when set, makes the cluster an existing one that idlab
	// does not create: it is reached with this kubeconfig (relative to the
	// lab file), its Context (empty: the kubeconfig's current context),
	// and its own service-account issuer is trusted as a cloud trusts it.
	// KindCluster names it as kind does when it is a kind cluster, so the
	// lab's images are loaded with kind instead of pulled.
	Kubeconfig  string
	Context     string
	KindCluster string
	// Line is where the cluster starts in the file.
	Line int
}

// Toggle turns one component on or off.
type Toggle struct {
	Name string
	On   bool
	Line int
}

// Load reads and parses the lab file at path.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lab file: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("lab file %s: %w", path, err)
	}
	return Parse(path, raw)
}

// document and cluster are the YAML shapes; DecodeStrict refuses any key
// they have no field for.
type document struct {
	APIVersion string      `yaml:"apiVersion"`
	Kind       string      `yaml:"kind"`
	Clusters   []yaml.Node `yaml:"clusters"`
}

type cluster struct {
	Name        string    `yaml:"name"`
	Flavour     string    `yaml:"flavour"`
	Issuer      string    `yaml:"issuer"`
	Region      string    `yaml:"region"`
	Account     string    `yaml:"account"`
	Project     string    `yaml:"project"`
	Tenant      string    `yaml:"tenant"`
	NodeRole    string    `yaml:"nodeRole"`
	NodeRoles   yaml.Node `yaml:"nodeRoles"`
	Nodes       yaml.Node `yaml:"nodes"`
	Pinned      yaml.Node `yaml:"pinnedWorkers"`
	Components  yaml.Node `yaml:"components"`
	Kubeconfig  string    `yaml:"kubeconfig"`
	Context     string    `yaml:"context"`
	KindCluster string    `yaml:"kindCluster"`
}

// Parse reads a lab file; name labels its errors (name:line: message).
func Parse(name string, raw []byte) (*File, error) {
	at := func(line int, format string, args ...any) error {
		return &Error{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if len(raw) > MaxSize {
		return nil, at(0, "the lab file is larger than %d bytes", MaxSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var root yaml.Node
	if err := dec.Decode(&root); errors.Is(err, io.EOF) {
		return nil, at(0, "empty lab file: want apiVersion: %s, kind: %s and clusters", APIVersion, Kind)
	} else if err != nil {
		return nil, at(fixtureyaml.ErrLine(err), "%v", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); err == nil {
		return nil, at(more.Line, "a lab file holds one document")
	} else if !errors.Is(err, io.EOF) {
		return nil, at(fixtureyaml.ErrLine(err), "%v", err)
	}
	if len(root.Content) == 0 || root.Content[0].Tag == "!!null" {
		return nil, at(root.Line, "empty lab file: want apiVersion: %s, kind: %s and clusters", APIVersion, Kind)
	}
	var doc document
	if err := fixtureyaml.DecodeStrict(root.Content[0], &doc); err != nil {
		return nil, fixtureyaml.Locate(name, err)
	}
	top := root.Content[0].Line
	switch {
	case doc.APIVersion != APIVersion:
		return nil, at(top, "apiVersion %q: want %s", doc.APIVersion, APIVersion)
	case doc.Kind != Kind:
		return nil, at(top, "kind %q: want %s", doc.Kind, Kind)
	case len(doc.Clusters) == 0:
		return nil, at(top, "clusters: the lab needs at least one cluster")
	}
	f := &File{Name: name}
	names, issuers := map[string]int{}, map[string]string{}
	for i := range doc.Clusters {
		n := &doc.Clusters[i]
		c, err := parseCluster(n)
		if err != nil {
			return nil, fixtureyaml.Locate(name, err)
		}
		if first, ok := names[c.Name]; ok {
			return nil, at(c.Line, "cluster %q is declared twice (first at line %d)", c.Name, first)
		}
		names[c.Name] = c.Line
		if c.Issuer != "" {
			key := strings.TrimSuffix(c.Issuer, "/")
			if other, ok := issuers[key]; ok {
				return nil, at(c.Line, "cluster %q: issuer %s is also cluster %q's: each cluster signs with its own key, and the emulator publishes one key set per issuer", c.Name, c.Issuer, other)
			}
			issuers[key] = c.Name
		}
		f.Clusters = append(f.Clusters, c)
	}
	return f, nil
}

var (
	clusterNameRe = lazyre.New(`^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$`)
	regionRe      = lazyre.New(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)
	accountRe     = regexp.MustCompile(`^[0-9]{12}$`)
	projectRe     = lazyre.New(`^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$`)
	tenantRe      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	roleARNRe     = lazyre.New(`^arn:aws:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	componentRe   = lazyre.New(`^[a-z][a-z0-9-]{0,62}$`)
)

// parseCluster decodes and checks one entry of clusters.
func parseCluster(n *yaml.Node) (Cluster, error) {
	at := func(format string, args ...any) error {
		return &Error{Line: n.Line, Msg: fmt.Sprintf(format, args...)}
	}
	var raw cluster
	if err := fixtureyaml.DecodeStrict(n, &raw); err != nil {
		return Cluster{}, err
	}
	if n.Kind != yaml.MappingNode {
		return Cluster{}, at("a cluster is a mapping (name, flavour, region ...)")
	}
	c := Cluster{Name: raw.Name, Flavour: raw.Flavour, Issuer: raw.Issuer, Region: raw.Region, Account: raw.Account,
		Project: raw.Project, Tenant: raw.Tenant, NodeRole: raw.NodeRole, Nodes: 1, Line: n.Line,
		Kubeconfig: raw.Kubeconfig, Context: raw.Context, KindCluster: raw.KindCluster}
	switch {
	case c.Name == "":
		return c, at("a cluster needs a name")
	case !clusterNameRe.MatchString(c.Name):
		return c, at("cluster name %q: want 1 to 32 lower-case letters, digits and '-', starting with a letter (it names the kind cluster and its node containers)", c.Name)
	case c.Flavour == "":
		return c, at("cluster %q needs a flavour: %s", c.Name, strings.Join(Flavours, ", "))
	case !isFlavour(c.Flavour):
		return c, at("cluster %q: flavour %q: want %s", c.Name, c.Flavour, strings.Join(Flavours, ", "))
	case c.Region == "":
		return c, at("cluster %q needs a region (us-west-2, us-central1, westus2 ...)", c.Name)
	case !regionRe.MatchString(c.Region):
		return c, at("cluster %q: region %q: want lower-case letters, digits and '-'", c.Name, c.Region)
	}
	if err := parseNodes(&c, &raw); err != nil {
		return c, err
	}
	if c.Issuer != "" {
		if err := CheckIssuer(c.Issuer); err != nil {
			return c, at("cluster %q: issuer: %v", c.Name, err)
		}
	}
	if err := checkAccount(c); err != nil {
		return c, at("cluster %q: %v", c.Name, err)
	}
	if err := checkExisting(c); err != nil {
		return c, at("cluster %q: %v", c.Name, err)
	}
	toggles, err := parseComponents(&raw.Components)
	if err != nil {
		return c, err
	}
	c.Components = toggles
	return c, nil
}

// parseNodes reads nodes, pinnedWorkers and nodeRoles into c, each
// refused at its own line with what to write instead.
func parseNodes(c *Cluster, raw *cluster) error {
	atNode := func(n *yaml.Node, format string, args ...any) error {
		return &Error{Line: n.Line, Msg: fmt.Sprintf("cluster %q: ", c.Name) + fmt.Sprintf(format, args...)}
	}
	if n := &raw.Nodes; n.Kind != 0 && n.Tag != "!!null" {
		v, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			return atNode(n, "nodes: %q: want a whole number of nodes from 1 to %d", n.Value, MaxNodes)
		}
		if v < 1 || v > MaxNodes {
			return atNode(n, "nodes: %d: want 1 to %d (the first node is the control plane, the others workers)", v, MaxNodes)
		}
		c.Nodes = v
	}
	if n := &raw.Pinned; n.Kind != 0 && n.Tag != "!!null" {
		if n.Kind != yaml.ScalarNode || n.Decode(&c.PinnedWorkers) != nil {
			return atNode(n, "pinnedWorkers: want true or false")
		}
		if c.PinnedWorkers && c.Nodes < 2 {
			return atNode(n, "pinnedWorkers: true needs nodes: 2 or more (it keeps ordinary pods off the nodes after the first)")
		}
	}
	n := &raw.NodeRoles
	if n.Kind == 0 || n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return atNode(n, "nodeRoles: want a list of role ARNs, one per node")
	}
	switch {
	case c.Flavour != EKS:
		return atNode(n, "nodeRoles is for eks clusters (their nodes are EC2 instances)")
	case c.NodeRole != "":
		return atNode(n, "nodeRole and nodeRoles: give one (nodeRole for every node, nodeRoles one per node)")
	case len(n.Content) != c.Nodes:
		return atNode(n, "nodeRoles: %d roles for %d nodes: want one per node, in node order", len(n.Content), c.Nodes)
	}
	for _, r := range n.Content {
		if r.Kind != yaml.ScalarNode || !roleARNRe.MatchString(r.Value) {
			return atNode(r, "nodeRoles: %q: want a role ARN, arn:aws:iam::ACCOUNT:role/NAME", r.Value)
		}
		c.NodeRoles = append(c.NodeRoles, r.Value)
	}
	return nil
}

// checkExisting checks the keys of an existing cluster: context and
// kindCluster only with kubeconfig; no issuer (the cluster's own is read
// from its API server) and no nodeRole (the lab serves no instance
// metadata on nodes it did not make).
func checkExisting(c Cluster) error {
	if c.Kubeconfig == "" {
		switch {
		case c.Context != "":
			return errors.New("context is for an existing cluster: give its kubeconfig too")
		case c.KindCluster != "":
			return errors.New("kindCluster is for an existing cluster: give its kubeconfig too")
		}
		return nil
	}
	switch {
	case c.Issuer != "":
		return errors.New("issuer: an existing cluster (kubeconfig) keeps its own issuer, which the lab reads from its API server; leave issuer out")
	case c.NodeRole != "" || len(c.NodeRoles) > 0:
		return errors.New("nodeRole: the lab serves no instance metadata on an existing cluster's nodes; leave nodeRole out")
	case c.Nodes > 1 || c.PinnedWorkers:
		return errors.New("nodes: an existing cluster has the nodes it has; leave nodes and pinnedWorkers out")
	case c.KindCluster != "" && !clusterNameRe.MatchString(c.KindCluster):
		return fmt.Errorf("kindCluster %q: want a kind cluster name (lower-case letters, digits and '-')", c.KindCluster)
	case strings.ContainsAny(c.Context, "\n\x00"):
		return fmt.Errorf("context %q: one line", c.Context)
	}
	return nil
}

func isFlavour(f string) bool {
	for _, x := range Flavours {
		if f == x {
			return true
		}
	}
	return false
}

// checkAccount checks the cloud account fields: each belongs to one
// flavour and has that cloud's shape.
func checkAccount(c Cluster) error {
	type field struct{ key, value, flavour string }
	for _, f := range []field{{"account", c.Account, EKS}, {"project", c.Project, GKE}, {"tenant", c.Tenant, AKS}, {"nodeRole", c.NodeRole, EKS}} {
		if f.value != "" && c.Flavour != f.flavour {
			return fmt.Errorf("%s is for %s clusters (eks clusters name an account, gke clusters a project, aks clusters a tenant)", f.key, f.flavour)
		}
	}
	switch {
	case c.Account != "" && !accountRe.MatchString(c.Account):
		return fmt.Errorf("account %q: want 12 digits, quoted (\"111122223333\")", c.Account)
	case c.Project != "" && !projectRe.MatchString(c.Project):
		return fmt.Errorf("project %q: want a Google project ID (lower-case letters, digits and '-', starting with a letter, at most 30)", c.Project)
	case c.Tenant != "" && !tenantRe.MatchString(c.Tenant):
		return fmt.Errorf("tenant %q: want an Entra tenant ID (a GUID)", c.Tenant)
	case c.NodeRole != "" && !roleARNRe.MatchString(c.NodeRole):
		return fmt.Errorf("nodeRole %q: want a role ARN, arn:aws:iam::ACCOUNT:role/NAME", c.NodeRole)
	}
	return nil
}

// parseComponents reads components: a mapping of component name to on or
// off (true/false), in file order.
func parseComponents(n *yaml.Node) ([]Toggle, error) {
	if n.Kind == 0 || n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, &Error{Line: n.Line, Msg: "components: want a mapping of component name to on or off (kube2iam: off)"}
	}
	var out []Toggle
	for k := 0; k+1 < len(n.Content); k += 2 {
		key, val := n.Content[k], n.Content[k+1]
		if key.Kind != yaml.ScalarNode || !componentRe.MatchString(key.Value) {
			return nil, &Error{Line: key.Line, Msg: fmt.Sprintf("components: %q is not a component name", key.Value)}
		}
		var on bool
		if val.Kind != yaml.ScalarNode || val.Decode(&on) != nil {
			return nil, &Error{Line: val.Line, Msg: fmt.Sprintf("components: %s: want on or off", key.Value)}
		}
		for _, t := range out {
			if t.Name == key.Value {
				return nil, &Error{Line: key.Line, Msg: fmt.Sprintf("components: %s is listed twice (first at line %d)", key.Value, t.Line)}
			}
		}
		out = append(out, Toggle{Name: key.Value, On: on, Line: key.Line})
	}
	return out, nil
}

// CheckIssuer checks a service-account issuer URL the lab can host: https,
// a DNS host name the lab's DNS can send to the emulator (not an IP
// address, not a name the cluster answers itself: *.svc, *.cluster.local,
// the metadata server), no port (the emulator answers on 443), user info,
// query or fragment.
func CheckIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil {
		return fmt.Errorf("%q is not a URL", issuer)
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("%q: want an https URL (AWS, Google and Azure fetch issuers over HTTPS only)", issuer)
	case host == "":
		return fmt.Errorf("%q has no host", issuer)
	case u.User != nil:
		return fmt.Errorf("%q: no user info in an issuer", issuer)
	case u.Port() != "":
		return fmt.Errorf("%q: no port: the emulator serves issuers on 443", issuer)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(issuer, "#"):
		return fmt.Errorf("%q: an issuer has no query or fragment", issuer)
	case net.ParseIP(strings.Trim(host, "[]")) != nil:
		return fmt.Errorf("%q: want a host name, not an IP address: cluster DNS sends the name to the emulator", issuer)
	case !strings.Contains(host, ".") || strings.HasSuffix(host, ".svc") || strings.HasSuffix(host, ".cluster.local") || host == "metadata.google.internal":
		return fmt.Errorf("%q: host %s is the cluster's own (a service, the metadata server) or has no domain: want a name cluster DNS can send to the emulator, such as oidc.eks.REGION.amazonaws.com", issuer, host)
	case strings.HasSuffix(host, "."):
		return fmt.Errorf("%q: host without the trailing dot", issuer)
	}
	return nil
}
