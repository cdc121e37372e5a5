package entra

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/idlab/idlab/internal/decisionlog"
	"github.com/idlab/idlab/internal/jwtverify"
)

// Handler is the Entra token service: tenants, apps, their federated
// credentials, and the HTTP endpoints listed in the package documentation.
type Handler struct {
	now      func() time.Time
	log      *slog.Logger
	dataDir  string
	fsync    bool
	verifier *jwtverify.Verifier

	mu      sync.RWMutex
	tenants map[string]*tenant // by ID
	names   map[string]string  // lower-cased ID or domain -> ID

	decisions *decisionlog.Log

	// ahead is, by client ID, how far ahead of the lab clock the app's
	// client assertions are checked (SetAssertionClock). Guarded by mu.
	ahead map[string]time.Duration
}

// tenant is a directory with its signing key and apps.
type tenant struct {
	Tenant
	key  *signingKey
	apps map[string]App // by client ID
}

// New returns a handler with the state kept in Options.DataDir, if any.
func New(opts Options) (*Handler, error) {
	opts = opts.normalize()
	h := &Handler{
		now:       opts.Now,
		log:       opts.Logger,
		dataDir:   opts.DataDir,
		fsync:     opts.Fsync,
		decisions: opts.Decisions,
		tenants:   map[string]*tenant{},
		names:     map[string]string{},
		ahead:     map[string]time.Duration{},
	}
	if h.decisions == nil {
		h.decisions = &decisionlog.Log{}
	}
	h.verifier = &jwtverify.Verifier{
		Keys: &jwtverify.DiscoveryKeys{Client: opts.HTTPClient, Now: opts.Now},
		Now:  opts.Now,
	}
	if err := h.load(); err != nil {
		return nil, err
	}
	return h, nil
}

// AddTenant creates a tenant (with a fresh signing key) or updates the name
// and domains of an existing one.
func (h *Handler) AddTenant(t Tenant) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.addTenantLocked(t); err != nil {
		return err
	}
	return h.saveLocked()
}

func (h *Handler) addTenantLocked(t Tenant) (*tenant, error) {
	if t.ID == "" || strings.ContainsAny(t.ID, "/?#") {
		return nil, fmt.Errorf("tenant %q: %w: id must be one non-empty path segment", t.ID, ErrInvalid)
	}
	if reserved(t.ID) {
		return nil, fmt.Errorf("tenant %q: %w: reserved name", t.ID, ErrInvalid)
	}
	for _, d := range t.Domains {
		if id, ok := h.names[strings.ToLower(d)]; ok && id != t.ID {
			return nil, fmt.Errorf("tenant %q: %w: domain %q belongs to tenant %q", t.ID, ErrInvalid, d, id)
		}
	}
	ten, ok := h.tenants[t.ID]
	if !ok {
		k, err := newSigningKey(h.now())
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.ID, err)
		}
		ten = &tenant{key: k, apps: map[string]App{}}
		h.tenants[t.ID] = ten
		h.names[strings.ToLower(t.ID)] = t.ID
	}
	if t.DisplayName != "" || ten.DisplayName == "" {
		ten.Tenant.DisplayName = t.DisplayName
	}
	ten.Tenant.ID = t.ID
	for _, d := range t.Domains {
		if !slices.Contains(ten.Domains, d) {
			ten.Domains = append(ten.Domains, d)
		}
		h.names[strings.ToLower(d)] = t.ID
	}
	return ten, nil
}

// reserved are the tenant names Entra gives a meaning of their own.
func reserved(id string) bool {
	switch strings.ToLower(id) {
	case "common", "organizations", "consumers", "error", "favicon.ico":
		return true
	}
	return false
}

// AddApp registers an app (creating its tenant when new) or replaces the
// app with the same tenant and client ID.
func (h *Handler) AddApp(app App) error {
	app, err := app.normalize()
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ten, ok := h.tenants[app.Tenant]
	if !ok {
		if ten, err = h.addTenantLocked(Tenant{ID: app.Tenant}); err != nil {
			return err
		}
	}
	ten.apps[app.ClientID] = app
	h.log.Info("app registered", "tenant", app.Tenant, "client_id", app.ClientID, "name", app.DisplayName, "federated_credentials", len(app.FederatedCredentials))
	return h.saveLocked()
}

// Apps lists the apps of every tenant, by tenant then client ID.
func (h *Handler) Apps() []App {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []App
	for _, t := range h.tenants {
		for _, a := range t.apps {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		return out[i].ClientID < out[j].ClientID
	})
	return out
}

// lookupTenant resolves a tenant ID or domain from a URL, case-insensitively
// as Entra does.
func (h *Handler) lookupTenant(name string) (*tenant, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	id, ok := h.names[strings.ToLower(name)]
	if !ok {
		return nil, false
	}
	return h.tenants[id], true
}

// tenantByID returns a tenant by exact ID.
func (h *Handler) tenantByID(id string) (*tenant, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	t, ok := h.tenants[id]
	return t, ok
}

// Tenant returns the tenant with ID id (exactly), for resource
// emulators that describe it (Azure Resource Manager's Tenants - List).
func (h *Handler) Tenant(id string) (Tenant, bool) {
	t, ok := h.tenantByID(id)
	if !ok {
		return Tenant{}, false
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := t.Tenant
	out.Domains = slices.Clone(out.Domains)
	return out, true
}

// app returns an app of a tenant.
func (h *Handler) app(t *tenant, clientID string) (App, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	a, ok := t.apps[clientID]
	return a, ok
}

// SetAssertionClock makes Entra check the client assertions of the app
// clientID (in any tenant) ahead of the lab clock, and nothing else: the
// tokens it issues, other apps and the keys' cache keep the lab clock. A
// row can then see a stale assertion refused (AADSTS700024, past exp + 5
// minutes) minutes sooner while every other client runs on; the refusal's
// "Current time" is the app's. Entra has no such thing: it is a lab
// control, kept in memory only. ahead <= 0 ends it. It reports false, and
// changes nothing, when no tenant has the app.
func (h *Handler) SetAssertionClock(clientID string, ahead time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	known := false
	for _, t := range h.tenants {
		if _, ok := t.apps[clientID]; ok {
			known = true
			break
		}
	}
	switch {
	case !known:
		return false
	case ahead <= 0:
		delete(h.ahead, clientID)
	default:
		h.ahead[clientID] = ahead
	}
	return true
}

// assertionClock is how far ahead of the lab clock clientID's assertions
// are checked.
func (h *Handler) assertionClock(clientID string) time.Duration {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.ahead[clientID]
}

func (t *tenant) nameLocked() string {
	if t.DisplayName != "" {
		return t.DisplayName
	}
	return t.ID
}

// entraHosts are the host names of Entra's public cloud the handler answers.
var entraHosts = []string{"login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net"}

// servedHost reports whether host (without port) is an Entra host or
// loopback (tests and the published port of the lab).
func servedHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if slices.Contains(entraHosts, host) || host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// AdminPrefix is where AdminHandler answers.
const AdminPrefix = "/_idlab/entra/"

// ServeHTTP routes discovery, keys and token requests: what workloads
// reach. The admin API is AdminHandler's alone.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !servedHost(r.Host) {
		http.NotFound(w, r)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) < 2 || parts[0] == "" {
		http.NotFound(w, r)
		return
	}
	ten, rest := parts[0], strings.Join(parts[1:], "/")
	switch rest {
	case "discovery/instance":
		h.get(w, r, func(ids requestIDs) { h.serveInstanceDiscovery(w, r, ids) })
	case "v2.0/.well-known/openid-configuration":
		h.get(w, r, func(ids requestIDs) { h.serveOpenIDConfig(w, r, ids, ten, true) })
	case ".well-known/openid-configuration":
		h.get(w, r, func(ids requestIDs) { h.serveOpenIDConfig(w, r, ids, ten, false) })
	case "discovery/v2.0/keys", "discovery/keys":
		h.get(w, r, func(ids requestIDs) { h.serveKeys(w, ids, ten) })
	case "oauth2/v2.0/token":
		h.serveToken(w, r, ten, true)
	case "oauth2/token":
		h.serveToken(w, r, ten, false)
	default:
		http.NotFound(w, r)
	}
}

// get runs f for GET and HEAD and answers 405 otherwise.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, f func(requestIDs)) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f(newRequestIDs(r))
}
