package entra

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of a managed identity's ARM location when its fixture names
// none; the same values as emulators/azureblob's storage accounts.
const (
	DefaultSubscription  = "00000000-0000-0000-0000-000000000000"
	DefaultResourceGroup = "idlab"
)

// ManagedIdentityLifetime is how long managed-identity access tokens are
// valid: the managed identities service caches a token per resource for
// about 24 hours and hands out the cached one (Microsoft Learn, "Managed
// identity best practice recommendations", section "Limitation of using
// managed identities for authorization"), so IMDS answers expires_in of up
// to 86399.
const ManagedIdentityLifetime = 24 * time.Hour

// ManagedIdentity marks an App as a user-assigned managed identity: an ARM
// resource (Microsoft.ManagedIdentity/userAssignedIdentities) whose service
// principal is the App. Its client ID is App.ClientID, its principal ID
// (the service principal's object ID, the oid of its tokens) is
// App.ObjectID(), and its resource ID is App.ResourceID().
type ManagedIdentity struct {
	// Name is the ARM resource name (az identity create --name).
	Name string `json:"name"`
	// Subscription defaults to DefaultSubscription.
	Subscription string `json:"subscription,omitempty"`
	// ResourceGroup defaults to DefaultResourceGroup.
	ResourceGroup string `json:"resourceGroup,omitempty"`
}

// ResourceID is the identity's ARM resource ID in the form tokens carry it
// in xms_mirid (a lower-case "resourcegroups" segment), or "" for an app
// that is not a managed identity.
func (a App) ResourceID() string {
	if a.ManagedIdentity == nil {
		return ""
	}
	mi := a.ManagedIdentity
	return "/subscriptions/" + mi.Subscription + "/resourcegroups/" + mi.ResourceGroup +
		"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + mi.Name
}

// PrincipalID is the identity's principal ID, Azure's name for the object
// ID of its service principal (az identity show --query principalId).
func (a App) PrincipalID() string { return a.ObjectID() }

// normalize fills the location defaults and checks the name.
func (mi *ManagedIdentity) normalize(clientID string) error {
	if mi.Name == "" || strings.ContainsAny(mi.Name, "/?#") {
		return fmt.Errorf("managed identity %s: %w: name %q must be one non-empty path segment", clientID, ErrInvalid, mi.Name)
	}
	if mi.Subscription == "" {
		mi.Subscription = DefaultSubscription
	}
	if mi.ResourceGroup == "" {
		mi.ResourceGroup = DefaultResourceGroup
	}
	if strings.ContainsAny(mi.Subscription+mi.ResourceGroup, "/?#") {
		return fmt.Errorf("managed identity %s: %w: subscription and resource group must be path segments", clientID, ErrInvalid)
	}
	return nil
}

// IdentitySelector names one managed identity the way an IMDS token request
// does: by client ID, principal (object) ID or ARM resource ID. Exactly one
// is set.
type IdentitySelector struct {
	ClientID   string
	ObjectID   string
	ResourceID string
}

// Matches reports whether a is the identity s names. Client and object IDs
// are GUIDs and resource IDs ARM IDs, all compared case-insensitively as
// Azure does.
func (s IdentitySelector) Matches(a App) bool {
	if a.ManagedIdentity == nil {
		return false
	}
	switch {
	case s.ClientID != "":
		return strings.EqualFold(s.ClientID, a.ClientID)
	case s.ObjectID != "":
		return strings.EqualFold(s.ObjectID, a.ObjectID())
	case s.ResourceID != "":
		return strings.EqualFold(strings.TrimSuffix(s.ResourceID, "/"), a.ResourceID())
	}
	return false
}

// ManagedIdentities lists the managed identities of every tenant, by tenant
// then client ID.
func (h *Handler) ManagedIdentities() []App {
	var out []App
	for _, a := range h.Apps() {
		if a.ManagedIdentity != nil {
			out = append(out, a)
		}
	}
	return out
}

// FindManagedIdentity returns the managed identity s names, in any tenant.
func (h *Handler) FindManagedIdentity(s IdentitySelector) (App, bool) {
	for _, a := range h.ManagedIdentities() {
		if s.Matches(a) {
			return a, true
		}
	}
	return App{}, false
}

// ManagedIdentityToken is an access token minted for a managed identity,
// with the times IMDS reports.
type ManagedIdentityToken struct {
	AccessToken string
	// Resource is the resource as requested (IMDS echoes it).
	Resource  string
	NotBefore time.Time
	ExpiresOn time.Time
}

// TokenError is a refusal of the token service: the OAuth error, its
// AADSTS code and Entra's message; IMDS passes it on.
type TokenError struct {
	Status      int
	OAuthError  string
	Code        int
	Description string
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("%s: AADSTS%d: %s", e.OAuthError, e.Code, e.Description)
}

// IssueManagedIdentityToken mints an access token for the managed identity
// mi on resource, as the managed identities service does for IMDS: a v1 or
// v2 token exactly as for an app (resolveResource), plus xms_mirid, valid
// ManagedIdentityLifetime. caller names who asked (the VM and, for the
// log, the requester's address). Every call leaves a decision.
func (h *Handler) IssueManagedIdentityToken(mi App, resource, caller string) (*ManagedIdentityToken, error) {
	now := h.now()
	d := decision{Time: now.UTC(), RequestID: newUUID(), Tenant: mi.Tenant, ClientID: mi.ClientID, App: mi.DisplayName,
		Subject: mi.ResourceID(), Resource: resource, Credential: "managed identity (" + caller + ")"}
	tok, err := h.issueManagedIdentityToken(mi, resource, now)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			d.Code, d.Error = fmt.Sprintf("AADSTS%d", te.Code), te.OAuthError
		}
		d.Reason = err.Error()
		h.record(d)
		return nil, err
	}
	d.Allowed, d.Reason = true, "managed identity token for "+caller
	h.record(d)
	return tok, nil
}

func (h *Handler) issueManagedIdentityToken(mi App, resource string, now time.Time) (*ManagedIdentityToken, error) {
	if mi.ManagedIdentity == nil {
		return nil, fmt.Errorf("entra: %w: %s is not a managed identity", ErrInvalid, mi.ClientID)
	}
	t, ok := h.tenantByID(mi.Tenant)
	if !ok {
		return nil, fmt.Errorf("entra: %w: tenant %q of managed identity %s", ErrInvalid, mi.Tenant, mi.ClientID)
	}
	if resource == "" {
		return nil, fmt.Errorf("entra: %w: resource is required", ErrInvalid)
	}
	res, aerr := h.resolveResource(t, resource)
	if aerr != nil {
		return nil, &TokenError{Status: aerr.Status, OAuthError: aerr.Error, Code: aerr.Code, Description: aerr.Msg}
	}
	roles := mi.Roles[canonicalResource(resource)]
	raw, err := h.mint(t, mi, res, roles, now, ManagedIdentityLifetime)
	if err != nil {
		return nil, fmt.Errorf("entra: sign managed identity token: %w", err)
	}
	return &ManagedIdentityToken{AccessToken: raw, Resource: resource, NotBefore: now, ExpiresOn: now.Add(ManagedIdentityLifetime)}, nil
}
