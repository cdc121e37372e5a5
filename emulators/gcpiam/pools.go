package gcpiam

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/idlab/idlab/internal/lazyre"
)

// Pool is a workload identity pool provider STS trusts: an OIDC issuer whose
// tokens, with one of Audiences, exchange for federated access tokens. A
// GKE workload pool (ID PROJECT.svc.id.goog) has one entry per cluster
// issuer.
type Pool struct {
	Project       string `json:"project"`       // project ID
	ProjectNumber string `json:"projectNumber"` // filled from the project
	ID            string `json:"id"`            // pool ID, e.g. "idlab.svc.id.goog" or "github"
	// Provider is the provider ID in //iam.googleapis.com/.../providers/PROV
	// audiences; "" accepts any provider ID of the pool.
	Provider string `json:"provider,omitempty"`
	Issuer   string `json:"issuer"`
	// Audiences the subject token's aud must include one of. Defaults to
	// the pool ID for GKE pools (*.svc.id.goog) and to
	// https://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/POOL/providers/PROV
	// otherwise, as Google defaults allowed audiences.
	Audiences []string `json:"audiences,omitempty"`
}

// IsGKE reports whether the pool is a GKE workload pool (PROJECT.svc.id.goog).
func (p *Pool) IsGKE() bool { return strings.HasSuffix(p.ID, ".svc.id.goog") }

// PoolName is the pool's resource name below //iam.googleapis.com/.
func (p *Pool) PoolName() string {
	return "projects/" + p.ProjectNumber + "/locations/global/workloadIdentityPools/" + p.ID
}

var poolIDRe = lazyre.New(`^[a-z0-9][-a-z0-9.]{2,62}$`)

// AddWorkloadIdentityPool registers a pool provider (the project is created
// when unknown). Adding the same pool ID and issuer again replaces it.
func (h *Handler) AddWorkloadIdentityPool(p Pool) error {
	if !poolIDRe.MatchString(p.ID) {
		return fmt.Errorf("workload identity pool id %q: %w", p.ID, ErrInvalid)
	}
	u, err := url.Parse(p.Issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("pool %s issuer %q: %w: want an https URL", p.ID, p.Issuer, ErrInvalid)
	}
	if !projectIDRe.MatchString(p.Project) {
		return fmt.Errorf("pool %s project %q: %w", p.ID, p.Project, ErrInvalid)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	proj, err := h.addProjectLocked(p.Project, p.ProjectNumber)
	if err != nil {
		return err
	}
	p.ProjectNumber = proj.Number
	p.Audiences = slices.Clone(p.Audiences)
	h.st.Pools = slices.DeleteFunc(h.st.Pools, func(o *Pool) bool {
		return o.ID == p.ID && o.Issuer == p.Issuer && o.Provider == p.Provider
	})
	h.st.Pools = append(h.st.Pools, &p)
	h.log.Info("workload identity pool added", "pool", p.PoolName(), "issuer", p.Issuer)
	return h.saveLocked()
}

// Pools lists the pool providers.
func (h *Handler) Pools() []Pool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]Pool, 0, len(h.st.Pools))
	for _, p := range h.st.Pools {
		out = append(out, *p)
	}
	return out
}

// allowedAudiences are the aud values the pool accepts.
func (p *Pool) allowedAudiences(provider string) []string {
	if len(p.Audiences) > 0 {
		return p.Audiences
	}
	if p.IsGKE() {
		return []string{p.ID}
	}
	return []string{"https://iam.googleapis.com/" + p.PoolName() + "/providers/" + provider}
}

// members are the IAM identities a verified subject gets in this pool.
func (p *Pool) members(sub string) []string {
	base := "iam.googleapis.com/" + p.PoolName()
	if p.IsGKE() {
		if rest, ok := strings.CutPrefix(sub, "system:serviceaccount:"); ok {
			if ns, ksa, ok := strings.Cut(rest, ":"); ok && ns != "" && ksa != "" && !strings.Contains(ksa, ":") {
				return []string{
					"serviceAccount:" + p.ID + "[" + ns + "/" + ksa + "]",
					"principal://" + base + "/subject/ns/" + ns + "/sa/" + ksa,
					"principalSet://" + base + "/namespace/" + ns,
					"principalSet://" + base + "/*",
				}
			}
		}
	}
	return []string{"principal://" + base + "/subject/" + sub, "principalSet://" + base + "/*"}
}
