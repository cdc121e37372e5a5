package eksauth

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"

	"github.com/idlab/idlab/internal/atomicfile"
	"github.com/idlab/idlab/internal/lazyre"
)

// Sentinel errors of AddCluster and AddAssociation.
var (
	ErrInvalid  = errors.New("invalid")
	ErrConflict = errors.New("already exists")
	ErrNotFound = errors.New("not found")
)

// Cluster is an EKS cluster whose service-account tokens EKS Auth accepts.
type Cluster struct {
	Name    string `json:"name" yaml:"name"`
	Account string `json:"account" yaml:"account"`
	// Region defaults to Options.Region.
	Region string `json:"region,omitempty" yaml:"region"`
	// IssuerURL is the cluster's service-account issuer (--service-account-issuer).
	IssuerURL string `json:"issuerURL" yaml:"issuerURL"`
}

// ARN is arn:aws:eks:REGION:ACCOUNT:cluster/NAME.
func (c Cluster) ARN() string {
	return "arn:aws:eks:" + c.Region + ":" + c.Account + ":cluster/" + c.Name
}

// Association is an EKS Pod Identity association: pods of one service
// account in one namespace of one cluster get RoleARN.
type Association struct {
	// ID is a-<17 lowercase letters and digits>; generated when empty.
	ID             string `json:"id" yaml:"id"`
	ClusterName    string `json:"clusterName" yaml:"clusterName"`
	Namespace      string `json:"namespace" yaml:"namespace"`
	ServiceAccount string `json:"serviceAccount" yaml:"serviceAccount"`
	RoleARN        string `json:"roleArn" yaml:"roleArn"`
	// TargetRoleARN, if set, is assumed with the RoleARN session (cross
	// account); its trust policy sees ExternalID as sts:ExternalId.
	TargetRoleARN string `json:"targetRoleArn,omitempty" yaml:"targetRoleArn"`
	// ExternalID is generated (a UUID) when TargetRoleARN is set and it is empty.
	ExternalID         string `json:"externalId,omitempty" yaml:"externalId"`
	DisableSessionTags bool   `json:"disableSessionTags,omitempty" yaml:"disableSessionTags"`
	// ARN is arn:aws:eks:REGION:ACCOUNT:podidentityassociation/CLUSTER/ID; set by AddAssociation.
	ARN string `json:"arn,omitempty" yaml:"-"`
}

var (
	clusterNameRe = lazyre.New(`^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$`)
	accountRe     = regexp.MustCompile(`^[0-9]{12}$`)
	assocIDRe     = regexp.MustCompile(`^a-[0-9a-z]{17}$`)
	roleARNRe     = lazyre.New(`^arn:aws:iam::[0-9]{12}:role/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}$`)
	// k8sNameRe is a DNS-1123 label (namespaces) or subdomain (service accounts).
	k8sNameRe = lazyre.New(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
)

// AddCluster registers a cluster; Region defaults to the handler's.
func (h *Handler) AddCluster(c Cluster) error {
	if c.Region == "" {
		c.Region = h.region
	}
	if err := validCluster(c); err != nil {
		return fmt.Errorf("add cluster %q: %w", c.Name, err)
	}
	h.mu.Lock()
	if _, ok := h.clusters[c.Name]; ok {
		h.mu.Unlock()
		return fmt.Errorf("add cluster %q: %w", c.Name, ErrConflict)
	}
	h.clusters[c.Name] = c
	h.mu.Unlock()
	h.log.Info("eks-auth cluster added", "cluster", c.Name, "account", c.Account, "issuer", c.IssuerURL)
	return h.persist()
}

func validCluster(c Cluster) error {
	if !clusterNameRe.MatchString(c.Name) {
		return fmt.Errorf("%w: name must match [0-9A-Za-z][A-Za-z0-9-_]* and have 1 to 100 characters", ErrInvalid)
	}
	if !accountRe.MatchString(c.Account) {
		return fmt.Errorf("%w: account %q is not a 12-digit account ID", ErrInvalid, c.Account)
	}
	u, err := url.Parse(c.IssuerURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%w: issuer URL %q must be an https URL", ErrInvalid, c.IssuerURL)
	}
	return nil
}

// AddAssociation registers a pod identity association for a known cluster
// and returns it with its ID, ARN and external ID filled in. One
// association per (cluster, namespace, service account), as EKS allows.
func (h *Handler) AddAssociation(a Association) (Association, error) {
	fail := func(err error) (Association, error) {
		return Association{}, fmt.Errorf("add pod identity association %s/%s in cluster %q: %w", a.Namespace, a.ServiceAccount, a.ClusterName, err)
	}
	switch {
	case !k8sNameRe.MatchString(a.Namespace) || len(a.Namespace) > 63:
		return fail(fmt.Errorf("%w: namespace %q is not a Kubernetes namespace name", ErrInvalid, a.Namespace))
	case !k8sNameRe.MatchString(a.ServiceAccount):
		return fail(fmt.Errorf("%w: service account %q is not a Kubernetes name", ErrInvalid, a.ServiceAccount))
	case !roleARNRe.MatchString(a.RoleARN):
		return fail(fmt.Errorf("%w: role ARN %q is not an IAM role ARN", ErrInvalid, a.RoleARN))
	case a.TargetRoleARN != "" && !roleARNRe.MatchString(a.TargetRoleARN):
		return fail(fmt.Errorf("%w: target role ARN %q is not an IAM role ARN", ErrInvalid, a.TargetRoleARN))
	case a.ID != "" && !assocIDRe.MatchString(a.ID):
		return fail(fmt.Errorf("%w: association ID %q must be a- and 17 lowercase letters or digits", ErrInvalid, a.ID))
	}
	if a.ID == "" {
		id, err := randomID(17)
		if err != nil {
			return fail(err)
		}
		a.ID = "a-" + id
	}
	if a.TargetRoleARN != "" && a.ExternalID == "" {
		u, err := newUUID()
		if err != nil {
			return fail(err)
		}
		a.ExternalID = u
	}
	h.mu.Lock()
	c, ok := h.clusters[a.ClusterName]
	if !ok {
		h.mu.Unlock()
		return fail(fmt.Errorf("%w: no cluster %q", ErrNotFound, a.ClusterName))
	}
	a.ARN = "arn:aws:eks:" + c.Region + ":" + c.Account + ":podidentityassociation/" + c.Name + "/" + a.ID
	for _, old := range h.assocs {
		if old.ID == a.ID {
			h.mu.Unlock()
			return fail(fmt.Errorf("%w: association ID %s", ErrConflict, a.ID))
		}
		if old.ClusterName == a.ClusterName && old.Namespace == a.Namespace && old.ServiceAccount == a.ServiceAccount {
			h.mu.Unlock()
			return fail(fmt.Errorf("%w: association %s already covers this service account", ErrConflict, old.ID))
		}
	}
	h.assocs = append(h.assocs, a)
	h.mu.Unlock()
	h.log.Info("eks-auth pod identity association added", "cluster", a.ClusterName, "namespace", a.Namespace,
		"service_account", a.ServiceAccount, "role", a.RoleARN, "association", a.ID)
	return a, h.persist()
}

// RemoveAssociation deletes the association with id and returns it, as
// EKS's DeletePodIdentityAssociation does: pods of its service account are
// refused from then on (ResourceNotFoundException). An unknown id is
// ErrNotFound.
func (h *Handler) RemoveAssociation(id string) (Association, error) {
	h.mu.Lock()
	i := slices.IndexFunc(h.assocs, func(a Association) bool { return a.ID == id })
	if i < 0 {
		h.mu.Unlock()
		return Association{}, fmt.Errorf("remove pod identity association %q: %w", id, ErrNotFound)
	}
	a := h.assocs[i]
	h.assocs = slices.Delete(h.assocs, i, i+1)
	h.mu.Unlock()
	h.log.Info("eks-auth pod identity association removed", "cluster", a.ClusterName, "namespace", a.Namespace,
		"service_account", a.ServiceAccount, "association", a.ID)
	return a, h.persist()
}

// Clusters lists the registered clusters by name.
func (h *Handler) Clusters() []Cluster {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]Cluster, 0, len(h.clusters))
	for _, c := range h.clusters {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Associations lists the associations in the order they were added.
func (h *Handler) Associations() []Association {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]Association(nil), h.assocs...)
}

func (h *Handler) cluster(name string) (Cluster, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	c, ok := h.clusters[name]
	return c, ok
}

func (h *Handler) association(cluster, ns, sa string) (Association, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, a := range h.assocs {
		if a.ClusterName == cluster && a.Namespace == ns && a.ServiceAccount == sa {
			return a, true
		}
	}
	return Association{}, false
}

const stateFile = "eksauth.json"

type state struct {
	Clusters     []Cluster     `json:"clusters"`
	Associations []Association `json:"associations"`
}

// persist writes clusters and associations under DataDir, if set.
func (h *Handler) persist() error {
	if h.dataDir == "" {
		return nil
	}
	h.persistMu.Lock()
	defer h.persistMu.Unlock()
	raw, err := json.MarshalIndent(state{Clusters: h.Clusters(), Associations: h.Associations()}, "", "  ")
	if err != nil {
		return fmt.Errorf("persist eks-auth state: %w", err)
	}
	if err := atomicfile.WriteSync(filepath.Join(h.dataDir, stateFile), raw, 0o600, h.fsync); err != nil {
		return fmt.Errorf("persist eks-auth state: %w", err)
	}
	return nil
}

// load reads what persist wrote.
func (h *Handler) load() error {
	if h.dataDir == "" {
		return nil
	}
	if err := atomicfile.RemoveTemp(h.dataDir); err != nil {
		return err
	}
	p := filepath.Join(h.dataDir, stateFile)
	raw, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read eks-auth state: %w", err)
	}
	var s state
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("parse eks-auth state %s: %w", p, err)
	}
	for _, c := range s.Clusters {
		h.clusters[c.Name] = c
	}
	h.assocs = s.Associations
	return nil
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b), nil
}

func newUUID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), nil
}
