package azureimds

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/decisionlog"
)

// Service and ActionGetToken name the handler's entries in the decision log.
const (
	Service        = "azureimds"
	ActionGetToken = "imds:GetToken"
)

// MetadataHeader is the header IMDS requires, with the value "true".
const MetadataHeader = "Metadata"

// tokenPath matches the token endpoint; IMDS takes /metadata in any case.
var tokenPath = regexp.MustCompile(`^/(?i:metadata)/identity/oauth2/token/?$`)

// cacheMargin: a cached token is handed out while more than this remains.
const cacheMargin = 5 * time.Minute

// Handler is one VM's IMDS token endpoint. It is safe for concurrent use.
type Handler struct {
	opt Options
	log *slog.Logger

	mu       sync.Mutex
	assigned []string // resource IDs as assigned, in assignment order
	cache    map[string]*entra.ManagedIdentityToken
}

// New returns the handler; Options.Identities is required.
func New(opts Options) (*Handler, error) {
	if opts.Identities == nil {
		return nil, errors.New("azureimds: Options.Identities is required")
	}
	opts = opts.normalize()
	h := &Handler{opt: opts, log: opts.Logger, cache: map[string]*entra.ManagedIdentityToken{}}
	for _, id := range opts.Assigned {
		if err := h.Assign(id); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// imdsError is an IMDS refusal: status and JSON body.
type imdsError struct {
	status int
	body   map[string]any
}

func invalidRequest(desc string) *imdsError {
	return &imdsError{http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": desc}}
}

// The refusals of the token endpoint (see the package documentation).
var (
	errMetadataHeader = invalidRequest("Required metadata header not specified")
	errNoAPIVersion   = &imdsError{http.StatusBadRequest, map[string]any{
		"error":           "Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds",
		"newest-versions": []string{"2023-07-01", "2021-12-13", "2021-11-15"},
	}}
	errNoResource        = invalidRequest("Required audience parameter not specified")
	errIdentityNotFound  = invalidRequest("Identity not found")
	errMultipleIdentites = invalidRequest("Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request")
)

// tokenResponse is IMDS's successful answer; every value is a string.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ClientID     string `json:"client_id"`
	ExpiresIn    string `json:"expires_in"`
	ExpiresOn    string `json:"expires_on"`
	ExtExpiresIn string `json:"ext_expires_in"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	TokenType    string `json:"token_type"`
}

// ServeHTTP answers the token endpoint; every other path is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !tokenPath.MatchString(r.URL.Path) {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	req, ierr := parseTokenRequest(r.Header.Get(MetadataHeader), r.URL.RawQuery)
	var resp *tokenResponse
	var mi entra.App
	if ierr == nil {
		mi, resp, ierr = h.token(req, r.RemoteAddr)
	}
	h.record(r, req, mi, ierr)
	if ierr != nil {
		writeJSON(w, ierr.status, ierr.body)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// token picks the identity and gets its token, from the cache when fresh.
func (h *Handler) token(req tokenRequest, caller string) (entra.App, *tokenResponse, *imdsError) {
	mi, ierr := h.pick(req.Selector)
	if ierr != nil {
		return entra.App{}, nil, ierr
	}
	now := h.opt.Now()
	key := strings.ToLower(mi.ClientID) + "\x00" + req.Resource
	h.mu.Lock()
	tok := h.cache[key]
	h.mu.Unlock()
	if tok == nil || tok.ExpiresOn.Sub(now) <= cacheMargin {
		var err error
		tok, err = h.opt.Identities.IssueManagedIdentityToken(mi, req.Resource, "IMDS of "+h.opt.VM+" for "+caller)
		var te *entra.TokenError
		switch {
		case errors.As(err, &te):
			return mi, nil, &imdsError{te.Status, map[string]any{"error": te.OAuthError, "error_description": fmt.Sprintf("AADSTS%d: %s", te.Code, te.Description)}}
		case err != nil:
			return mi, nil, &imdsError{http.StatusInternalServerError, map[string]any{"error": "unknown", "error_description": "Failed to retrieve token from the Active directory."}}
		}
		h.mu.Lock()
		h.cache[key] = tok
		h.mu.Unlock()
	}
	secs := func(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }
	return mi, &tokenResponse{
		AccessToken:  tok.AccessToken,
		ClientID:     mi.ClientID,
		ExpiresIn:    secs(tok.ExpiresOn.Sub(now)),
		ExpiresOn:    strconv.FormatInt(tok.ExpiresOn.Unix(), 10),
		ExtExpiresIn: secs(tok.ExpiresOn.Sub(tok.NotBefore)),
		NotBefore:    strconv.FormatInt(tok.NotBefore.Unix(), 10),
		Resource:     req.Resource,
		TokenType:    "Bearer",
	}, nil
}

// pick chooses among the assigned identities: the one the selector names,
// else the only one.
func (h *Handler) pick(sel entra.IdentitySelector) (entra.App, *imdsError) {
	var mis []entra.App
	for _, id := range h.Assigned() {
		if mi, ok := h.opt.Identities.FindManagedIdentity(entra.IdentitySelector{ResourceID: id}); ok {
			mis = append(mis, mi)
		}
	}
	if sel == (entra.IdentitySelector{}) {
		switch len(mis) {
		case 0:
			return entra.App{}, errIdentityNotFound
		case 1:
			return mis[0], nil
		default:
			return entra.App{}, errMultipleIdentites
		}
	}
	for _, mi := range mis {
		if sel.Matches(mi) {
			return mi, nil
		}
	}
	return entra.App{}, errIdentityNotFound
}

// record keeps the decision and logs it.
func (h *Handler) record(r *http.Request, req tokenRequest, mi entra.App, ierr *imdsError) {
	e := decisionlog.Entry{Time: h.opt.Now().UTC(), Cloud: decisionlog.Azure, Service: Service, Principal: r.RemoteAddr,
		Action: ActionGetToken, Resource: h.opt.VM, Effect: decisionlog.Allow, Detail: map[string]string{}}
	if mi.ClientID != "" {
		e.Detail["clientId"], e.Detail["identity"] = mi.ClientID, mi.ResourceID()
	}
	if req.Resource != "" {
		e.Detail["audience"] = req.Resource
	}
	if ierr != nil {
		e.Effect = decisionlog.Deny
		e.Code = fmt.Sprint(ierr.body["error"])
		e.Reason = fmt.Sprintf("%d %v", ierr.status, ierr.body["error_description"])
		if _, ok := ierr.body["error_description"]; !ok {
			e.Reason = fmt.Sprintf("%d %v", ierr.status, ierr.body["error"])
		}
	} else {
		e.Reason = "token of " + mi.ResourceID()
	}
	h.opt.Decisions.Add(e)
	h.log.Info("imds token request", "decision", strings.ToLower(e.Effect), "principal", e.Principal, "action", e.Action,
		"resource", e.Resource, "identity", mi.ResourceID(), "audience", req.Resource, "reason", e.Reason, "request_id", r.Header.Get("x-ms-client-request-id"))
}

// Decisions returns the handler's entries of the decision log.
func (h *Handler) Decisions() []decisionlog.Entry {
	return h.opt.Decisions.Entries(decisionlog.Filter{Service: Service, Resource: h.opt.VM})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
