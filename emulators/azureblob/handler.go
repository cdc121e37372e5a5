package azureblob

import (
	"context"
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

// Handler is the blob service: an http.Handler over its accounts.
type Handler struct {
	opts      Options
	log       *slog.Logger
	decisions *decisionlog.Log

	mu       sync.RWMutex
	accounts map[string]*account
}

// New returns a handler with the blobs persisted under opts.DataDir, if any.
func New(opts Options) (*Handler, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	h := &Handler{opts: opts, log: opts.Logger, decisions: opts.Decisions, accounts: map[string]*account{}}
	if h.decisions == nil {
		h.decisions = &decisionlog.Log{}
	}
	if err := h.load(); err != nil {
		return nil, err
	}
	return h, nil
}

// AddAccount creates (or reconfigures) a storage account; its containers
// and blobs are kept.
func (h *Handler) AddAccount(a Account) error {
	if !accountNameRE.MatchString(a.Name) {
		return fmt.Errorf("storage account %q: %w: 3-24 lower-case letters and digits", a.Name, ErrInvalid)
	}
	if a.Tenant == "" {
		return fmt.Errorf("storage account %q: %w: tenant is required", a.Name, ErrInvalid)
	}
	if a.Subscription == "" {
		a.Subscription = DefaultSubscription
	}
	if a.ResourceGroup == "" {
		a.ResourceGroup = DefaultResourceGroup
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	cur, ok := h.accounts[a.Name]
	if !ok {
		cur = &account{Containers: map[string]*container{}}
		h.accounts[a.Name] = cur
	}
	cur.Account = a
	return h.saveLocked()
}

// CreateContainer creates a container; an existing one is kept.
func (h *Handler) CreateContainer(_ context.Context, accountName, name string) error {
	if !containerNameRE.MatchString(name) || strings.Contains(name, "--") {
		return fmt.Errorf("container %q: %w: 3-63 lower-case letters, digits and single hyphens", name, ErrInvalid)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.accounts[accountName]
	if !ok {
		return fmt.Errorf("container %q: %w: no storage account %q", name, ErrInvalid, accountName)
	}
	if _, ok := a.Containers[name]; !ok {
		a.Containers[name] = &container{Created: h.opts.Now().UTC(), Blobs: map[string]*blob{}}
	}
	return h.saveLocked()
}

// PutBlob writes a block blob, as an administrator would (no authorization).
func (h *Handler) PutBlob(_ context.Context, accountName, containerName, name string, data []byte, contentType string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.containerLocked(accountName, containerName)
	if err != nil {
		return err
	}
	if !validBlobName(name) {
		return fmt.Errorf("blob %q: %w", name, ErrInvalid)
	}
	h.putLocked(c, name, data, contentType)
	return h.saveLocked()
}

func (h *Handler) containerLocked(accountName, containerName string) (*container, error) {
	a, ok := h.accounts[accountName]
	if !ok {
		return nil, fmt.Errorf("%w: no storage account %q", ErrInvalid, accountName)
	}
	c, ok := a.Containers[containerName]
	if !ok {
		return nil, fmt.Errorf("%w: no container %q in %q", ErrInvalid, containerName, accountName)
	}
	return c, nil
}

func (h *Handler) putLocked(c *container, name string, data []byte, contentType string) *blob {
	now := h.opts.Now().UTC()
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	b := &blob{Data: append([]byte(nil), data...), ContentType: contentType, Created: now, Modified: now}
	if old, ok := c.Blobs[name]; ok {
		b.Created = old.Created
	}
	c.Blobs[name] = b
	return b
}

// AssignRole adds a role assignment to the account its scope names;
// assigning the same role to the same principal at the same scope twice
// keeps one.
func (h *Handler) AssignRole(accountName string, ra RoleAssignment) error {
	if err := ra.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.accounts[accountName]
	if !ok {
		return fmt.Errorf("role assignment: %w: no storage account %q", ErrInvalid, accountName)
	}
	if !scopeContains(accountScope(a), ra.Scope) {
		return fmt.Errorf("role assignment: %w: scope %q is not within storage account %s", ErrInvalid, ra.Scope, accountScope(a))
	}
	for _, cur := range a.assignments {
		if cur.PrincipalID == ra.PrincipalID && cur.Role == ra.Role && strings.EqualFold(cur.Scope, ra.Scope) {
			return nil
		}
	}
	a.assignments = append(a.assignments, ra)
	return nil
}

// RemoveRoleAssignments drops every assignment of principal on the account
// (tests flip fixtures with it).
func (h *Handler) RemoveRoleAssignments(accountName, principal string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a, ok := h.accounts[accountName]; ok {
		kept := a.assignments[:0]
		for _, ra := range a.assignments {
			if ra.PrincipalID != principal {
				kept = append(kept, ra)
			}
		}
		a.assignments = kept
	}
}

// SubscriptionsOf returns the subscriptions of tenant's storage accounts
// in which principalID holds a role assignment, sorted, each once: what
// Azure Resource Manager lists for the principal (emulators/azurearm).
func (h *Handler) SubscriptionsOf(tenant, principalID string) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []string
	for _, a := range h.accounts {
		if a.Tenant != tenant || slices.Contains(out, a.Subscription) {
			continue
		}
		for _, ra := range a.assignments {
			if ra.PrincipalID == principalID {
				out = append(out, a.Subscription)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// ServeHTTP answers the blob REST API: what workloads reach. The admin API
// is AdminHandler's alone.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := h.opts.Now()
	reqID := uuid.NewString()
	hd := w.Header()
	hd.Set("x-ms-request-id", reqID)
	hd.Set("Server", "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0")
	hd.Set("Date", now.UTC().Format(http.TimeFormat))
	if v := r.Header.Get("x-ms-version"); v != "" {
		hd.Set("x-ms-version", v)
	}
	if id := r.Header.Get("x-ms-client-request-id"); id != "" && len(id) <= 1024 {
		hd.Set("x-ms-client-request-id", id)
	}
	fail := func(e *storageError) { writeError(w, r, e, reqID, now) }

	t, serr := parseTarget(r.Method, r.Host, r.URL.EscapedPath(), r.URL.Query())
	if serr != nil {
		fail(serr)
		return
	}
	h.mu.RLock()
	a, ok := h.accounts[t.Account]
	var acct Account
	if ok {
		acct = a.Account
	}
	h.mu.RUnlock()
	if !ok {
		fail(&storageError{status: http.StatusNotFound, code: CodeResourceNotFound, msg: msgNoResource})
		return
	}
	d := decision{Time: now.UTC(), RequestID: reqID, Account: t.Account, Container: t.Container, Blob: t.Blob, Operation: t.Op,
		Action: t.Action, Scope: ContainerScope(acct.Subscription, acct.ResourceGroup, acct.Name, t.Container)}
	if serr := h.authorize(r, acct, &d); serr != nil {
		d.Code, d.Status = serr.code, serr.status
		h.record(d)
		fail(serr)
		return
	}
	d.Status = http.StatusOK
	h.record(d)
	switch t.Op {
	case OpGetBlob, OpGetBlobProperties:
		h.getBlob(w, r, t, fail)
	case OpPutBlob:
		h.putBlob(w, r, t, fail)
	case OpListBlobs:
		h.listBlobs(w, r, t, fail)
	}
}

// authorize authenticates the bearer token and evaluates the role
// assignments for d.Action at d.Scope, filling d.
func (h *Handler) authorize(r *http.Request, acct Account, d *decision) *storageError {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		d.Reason = "no Authorization header"
		return &storageError{status: http.StatusUnauthorized, code: CodeNoAuthenticationInformation, msg: msgAuthHeader, challengeTenant: acct.Tenant}
	}
	token, scheme, ok := bearerToken(authz)
	if !ok {
		d.Reason = fmt.Sprintf("authorization scheme %q is not a bearer token", scheme)
		if strings.EqualFold(scheme, "Bearer") {
			return errAuthFailed("Bearer token is malformed.")
		}
		return errAuthFailed("Authentication scheme " + scheme + " is not supported.")
	}
	if v := r.Header.Get("x-ms-version"); v == "" {
		d.Reason = "no x-ms-version header"
		return &storageError{status: http.StatusBadRequest, code: CodeMissingRequiredHeader,
			msg: "An HTTP header that's mandatory for this request is not specified.", extra: [][2]string{{"HeaderName", "x-ms-version"}}}
	} else if v < minBearerVersion {
		d.Reason = "x-ms-version " + v + " predates bearer tokens (" + minBearerVersion + ")"
		return errAuthFailed("Authentication scheme Bearer is not supported in this version.")
	}
	c, err := h.opts.Tokens.VerifyAccessToken(token)
	if err != nil {
		d.Reason = "token: " + err.Error()
		var je *jwtverify.Error
		switch {
		case errors.Is(err, entra.ErrTokenExpired):
			return errInvalidAuth(acct.Tenant, "Lifetime validation failed. The token is expired.")
		case errors.As(err, &je) && (je.Code == jwtverify.CodeBadSignature || je.Code == jwtverify.CodeKeyNotFound || je.Code == jwtverify.CodeUnsupportedAlg):
			return errInvalidAuth(acct.Tenant, "Signature validation failed. Signature verification failed.")
		case errors.As(err, &je) && je.Code == jwtverify.CodeMalformed:
			return errInvalidAuth(acct.Tenant, "JWT is not well formed.")
		case errors.As(err, &je):
			return errInvalidAuth(acct.Tenant, "Lifetime validation failed. The token is not yet valid.")
		}
		// Not a token of a tenant this cloud knows, or its iss does not
		// match its tid.
		return errInvalidAuth(acct.Tenant, "Issuer validation failed. Issuer did not match.")
	}
	d.Principal, d.AppID, d.Tenant = c.ObjectID, c.AppID, c.TenantID
	if c.TenantID != acct.Tenant {
		d.Reason = fmt.Sprintf("token of tenant %q; the account belongs to tenant %q", c.TenantID, acct.Tenant)
		return errInvalidAuth(acct.Tenant, "Issuer validation failed. Issuer did not match.")
	}
	if !validAudience(c.Audience, acct.Name) {
		d.Reason = fmt.Sprintf("token audience %q is not https://storage.azure.com nor the account's endpoint", c.Audience)
		return errInvalidAuth(acct.Tenant, "Audience validation failed. Audience did not match.")
	}
	h.mu.RLock()
	var assignments []RoleAssignment
	if a, ok := h.accounts[acct.Name]; ok {
		assignments = append(assignments, a.assignments...)
	}
	h.mu.RUnlock()
	for _, ra := range assignments {
		if ra.PrincipalID == c.ObjectID && ra.grants(d.Action, d.Scope) {
			d.Allowed, d.Role, d.AssignmentScope = true, ra.Role, ra.Scope
			d.Reason = fmt.Sprintf("%s assigned to %s at %s grants %s", ra.Role, c.ObjectID, ra.Scope, d.Action)
			return nil
		}
	}
	d.Reason = fmt.Sprintf("no role assignment of principal %s (app %s) grants %s at %s", c.ObjectID, c.AppID, d.Action, d.Scope)
	return errPermission()
}

// validAudience: storage accepts its resource URI and the account's own
// endpoint, with or without the trailing slash.
func validAudience(aud, accountName string) bool {
	aud = strings.TrimSuffix(strings.ToLower(aud), "/")
	return aud == "https://storage.azure.com" || aud == "https://"+accountName+BlobHostSuffix
}

func (h *Handler) record(d decision) {
	h.decisions.Add(d.entry())
	decision := "deny"
	if d.Allowed {
		decision = "allow"
	}
	h.log.Info("blob authorization", "decision", decision, "principal", d.Principal, "app_id", d.AppID, "action", d.Action,
		"resource", d.Scope+"/blobs/"+d.Blob, "operation", d.Operation, "code", d.Code, "reason", d.Reason, "request_id", d.RequestID)
}
