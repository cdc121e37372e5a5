package azurearm

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/decisionlog"
	"github.com/idlab/idlab/internal/jwtverify"
)

// Service is the Service of the emulator's decisions.
const Service = "azurearm"

// The actions its decisions name (ARM's operations for the two reads).
const (
	ActionListSubscriptions = "Microsoft.Resources/subscriptions/read"
	ActionListTenants       = "Microsoft.Resources/tenants/read"
)

// Handler is the Resource Manager front door for the two tenant-level
// reads the package documentation lists.
type Handler struct {
	opts Options
	log  *slog.Logger
	rbac rbac

	mu        sync.RWMutex
	scaleSets map[string]ScaleSet // by lower-case resource ID
}

// New returns a handler; Options.Directory is required.
func New(opts Options) (*Handler, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	return &Handler{opts: opts, log: opts.Logger, scaleSets: map[string]ScaleSet{}}, nil
}

// ServeHTTP answers GET /subscriptions and GET /tenants, and GET and
// PATCH of a registered scale set; any other path gets the lab's 404
// naming them.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action := map[string]string{"/subscriptions": ActionListSubscriptions, "/tenants": ActionListTenants}[strings.TrimSuffix(r.URL.Path, "/")]
	ref, isScaleSet := parseScaleSetPath(r.URL.Path)
	if !(action != "" && r.Method == http.MethodGet || isScaleSet && (r.Method == http.MethodGet || r.Method == http.MethodPatch)) {
		http.Error(w, "idlab: the lab's Azure Resource Manager serves GET /subscriptions, GET /tenants and GET or PATCH of a virtual machine scale set only, not "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	reqID := uuid.NewString()
	corr := r.Header.Get("x-ms-correlation-request-id")
	if corr == "" {
		corr = reqID
	}
	w.Header().Set("x-ms-request-id", reqID)
	w.Header().Set("x-ms-correlation-request-id", corr)
	d := decision{Entry: decisionlog.Entry{Time: h.opts.Now().UTC(), RequestID: reqID, Action: action, Resource: strings.TrimSuffix(r.URL.Path, "/")}}
	if isScaleSet {
		d.Action = ActionScaleSetRead
		if r.Method == http.MethodPatch {
			d.Action = ActionScaleSetWrite
		}
	}
	claims, aerr := h.authenticate(r)
	if claims != nil {
		d.Principal, d.AppID, d.Tenant, d.Audience = claims.ObjectID, claims.AppID, claims.TenantID, claims.Audience
	}
	if aerr == nil && r.URL.Query().Get("api-version") == "" {
		aerr = errMissingAPIVersion()
	}
	if aerr == nil && isScaleSet {
		aerr = h.serveScaleSet(w, r, ref, claims, &d)
		if aerr == nil {
			d.Allowed = true
			h.record(d)
			return
		}
	}
	if aerr != nil {
		d.Code, d.Reason = aerr.code, aerr.msg
		h.record(d)
		writeError(w, aerr)
		return
	}
	d.Allowed = true
	if action == ActionListTenants {
		t, _ := h.opts.Directory.Tenant(claims.TenantID)
		d.Reason = fmt.Sprintf("lists the token's tenant %s", claims.TenantID)
		h.record(d)
		writeJSON(w, http.StatusOK, list([]tenantJSON{tenantOf(t, claims.TenantID)}))
		return
	}
	subs := slices.Clone(h.opts.Subscriptions.SubscriptionsOf(claims.TenantID, claims.ObjectID))
	subs = append(subs, h.rbac.subscriptionsOf(claims.ObjectID)...)
	slices.Sort(subs)
	subs = slices.Compact(subs)
	out := make([]subscriptionJSON, 0, len(subs))
	for _, s := range subs {
		out = append(out, subscriptionOf(s, claims.TenantID))
	}
	d.Subscriptions = subs
	d.Reason = fmt.Sprintf("lists %d subscription(s) of tenant %s in which principal %s holds a role assignment", len(subs), claims.TenantID, claims.ObjectID)
	h.record(d)
	writeJSON(w, http.StatusOK, list(out))
}

// authenticate checks the bearer token as ARM's front door does: present,
// verified, unexpired, for ARM.
func (h *Handler) authenticate(r *http.Request) (*entra.Claims, *armError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return nil, errMissingAuthorization()
	}
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, errInvalidToken()
	}
	token = strings.TrimSpace(token)
	claims, err := h.opts.Directory.VerifyAccessToken(token)
	if errors.Is(err, entra.ErrTokenExpired) {
		if tok, perr := jwtverify.ParseUnverified(token); perr == nil && tok.Claims.Expiry != nil {
			return nil, errExpired(*tok.Claims.Expiry, h.opts.Now())
		}
	}
	if err != nil {
		return nil, errInvalidToken()
	}
	if !slices.Contains(Audiences, claims.Audience) {
		return claims, errAudience(claims.Audience)
	}
	return claims, nil
}

// listJSON is ARM's list body with its count.
type listJSON[T any] struct {
	Value []T       `json:"value"`
	Count countJSON `json:"count"`
}

type countJSON struct {
	Type  string `json:"type"`
	Value int    `json:"value"`
}

func list[T any](v []T) listJSON[T] {
	return listJSON[T]{Value: v, Count: countJSON{Type: "Total", Value: len(v)}}
}

// subscriptionJSON is one subscription as Subscriptions - List returns it.
type subscriptionJSON struct {
	ID                   string         `json:"id"`
	AuthorizationSource  string         `json:"authorizationSource"`
	ManagedByTenants     []any          `json:"managedByTenants"`
	SubscriptionID       string         `json:"subscriptionId"`
	TenantID             string         `json:"tenantId"`
	DisplayName          string         `json:"displayName"`
	State                string         `json:"state"`
	SubscriptionPolicies map[string]any `json:"subscriptionPolicies"`
}

// subscriptionOf describes subscription id of tenant; the lab names a
// subscription by its ID, having no other name for it.
func subscriptionOf(id, tenant string) subscriptionJSON {
	return subscriptionJSON{ID: "/subscriptions/" + id, AuthorizationSource: "RoleBased", ManagedByTenants: []any{},
		SubscriptionID: id, TenantID: tenant, DisplayName: id, State: "Enabled",
		SubscriptionPolicies: map[string]any{"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}
}

// tenantJSON is one tenant as Tenants - List returns it.
type tenantJSON struct {
	ID             string   `json:"id"`
	TenantID       string   `json:"tenantId"`
	TenantCategory string   `json:"tenantCategory"`
	DisplayName    string   `json:"displayName,omitempty"`
	Domains        []string `json:"domains"`
	DefaultDomain  string   `json:"defaultDomain,omitempty"`
	TenantType     string   `json:"tenantType"`
}

func tenantOf(t entra.Tenant, id string) tenantJSON {
	out := tenantJSON{ID: "/tenants/" + id, TenantID: id, TenantCategory: "Home", DisplayName: t.DisplayName, Domains: slices.Clone(t.Domains), TenantType: "AAD"}
	if out.Domains == nil {
		out.Domains = []string{}
	}
	if len(t.Domains) > 0 {
		out.DefaultDomain = t.Domains[0]
	}
	return out
}

// decision is one request's outcome, kept as a decisionlog.Entry.
type decision struct {
	decisionlog.Entry
	Allowed                 bool
	AppID, Tenant, Audience string
	Subscriptions           []string
}

func (h *Handler) record(d decision) {
	e := d.Entry
	e.Cloud, e.Service, e.Effect = decisionlog.Azure, Service, decisionlog.Deny
	if d.Allowed {
		e.Effect = decisionlog.Allow
	}
	e.Detail = map[string]string{}
	for k, v := range map[string]string{"appId": d.AppID, "tenant": d.Tenant, "audience": d.Audience, "subscriptions": strings.Join(d.Subscriptions, ",")} {
		if v != "" {
			e.Detail[k] = v
		}
	}
	h.opts.Decisions.Add(e)
	outcome := "deny"
	if d.Allowed {
		outcome = "allow"
	}
	h.log.Info("arm request", "decision", outcome, "principal", e.Principal, "action", e.Action, "resource", e.Resource,
		"code", e.Code, "reason", e.Reason, "request_id", e.RequestID)
}

// Decisions returns the emulator's entries of the decision log, oldest
// first.
func (h *Handler) Decisions() []decisionlog.Entry {
	return h.opts.Decisions.Entries(decisionlog.Filter{Service: Service})
}
