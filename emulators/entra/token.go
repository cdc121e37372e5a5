package entra

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// tokenResponse is Entra's successful token response for app-only tokens.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// AccessTokenLifetime is how long access tokens are valid; expires_in says
// one second less, as Entra does.
const AccessTokenLifetime = time.Hour

// serveToken handles POST /{tenant}/oauth2[/v2.0]/token.
func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request, tenantName string, v2 bool) {
	ids := newRequestIDs(r)
	now := h.now()
	d := decision{Time: now.UTC(), RequestID: ids.trace, CorrelationID: ids.correlation, Tenant: tenantName}
	resp, aerr := h.token(r.Context(), r, tenantName, v2, now, &d)
	if aerr != nil {
		d.Allowed, d.Code, d.Error, d.Reason = false, fmt.Sprintf("AADSTS%d", aerr.Code), aerr.Error, aerr.Msg
		h.record(d)
		writeAADError(w, aerr, ids, now)
		return
	}
	d.Allowed = true
	h.record(d)
	writeJSON(w, http.StatusOK, ids, resp)
}

// token runs the grant and fills d as it learns who is asking.
func (h *Handler) token(ctx context.Context, r *http.Request, tenantName string, v2 bool, now time.Time, d *decision) (*tokenResponse, *aadError) {
	if r.Method != http.MethodPost {
		return nil, &aadError{http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a " + r.Method + " request."}
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		return nil, &aadError{http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, &aadError{http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."}
	}
	t, ok := h.lookupTenant(tenantName)
	if !ok {
		return nil, h.unknownTenantError(tenantName)
	}
	d.Tenant = t.ID
	req, aerr := parseTokenRequest(r.PostForm, v2)
	if aerr != nil {
		d.ClientID = r.PostForm.Get("client_id")
		return nil, aerr
	}
	d.ClientID, d.Resource = req.ClientID, req.Resource
	app, ok := h.app(t, req.ClientID)
	if !ok {
		return nil, errAppNotFound(req.ClientID, h.tenantName(t))
	}
	d.App = app.DisplayName
	if req.Assertion == "" {
		// Apps here have no secrets: federation is the only credential.
		return nil, errClientSecret(req.ClientID)
	}
	res, aerr := h.resolveResource(t, req.Resource)
	if aerr != nil {
		return nil, aerr
	}
	fic, aerr := h.verifyAssertion(ctx, app, req.Assertion, now.Add(h.assertionClock(app.ClientID)), d)
	if aerr != nil {
		return nil, aerr
	}
	d.Credential = fic.Name
	roles := app.Roles[canonicalResource(req.Resource)]
	d.Roles = roles
	tok, err := h.mintAccessToken(t, app, res, roles, now)
	if err != nil {
		return nil, &aadError{http.StatusInternalServerError, "server_error", 90100, "An error occurred while issuing the token: " + err.Error()}
	}
	d.Reason = fmt.Sprintf("federated credential %q matched", fic.Name)
	secs := int(AccessTokenLifetime/time.Second) - 1
	return &tokenResponse{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: tok}, nil
}

// resource is what an access token is minted for.
type resource struct {
	aud string
	v2  bool
}

// resolveResource finds the resource principal: a first-party Microsoft
// resource (v1 tokens), an app of the tenant by client ID or api://CLIENT_ID
// (v2 tokens, aud = client ID), or a resource some app of the tenant holds
// roles on (v1 tokens).
func (h *Handler) resolveResource(t *tenant, res string) (resource, *aadError) {
	c := canonicalResource(res)
	if slices.Contains(firstPartyResources, c) {
		return resource{aud: res, v2: false}, nil
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	id := strings.TrimPrefix(c, "api://")
	if a, ok := t.apps[id]; ok {
		return resource{aud: a.ClientID, v2: true}, nil
	}
	for _, a := range t.apps {
		if _, ok := a.Roles[c]; ok {
			return resource{aud: res, v2: false}, nil
		}
	}
	return resource{}, errResourceNotFound(res, t.nameLocked())
}

func (h *Handler) tenantName(t *tenant) string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return t.nameLocked()
}

// record logs and keeps a decision.
func (h *Handler) record(d decision) {
	h.decisions.Add(d.entry())
	outcome := "deny"
	if d.Allowed {
		outcome = "allow"
	}
	h.log.Info("token request", "decision", outcome, "principal", d.Subject, "issuer", d.Issuer,
		"action", "oauth2/token", "resource", d.Resource, "tenant", d.Tenant, "client_id", d.ClientID,
		"code", d.Code, "reason", d.Reason, "request_id", d.RequestID)
}
