package azurearm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/idlab/idlab/emulators/entra"
)

// ErrInvalid is wrapped by errors of bad scale sets, role assignments and
// fixtures.
var ErrInvalid = errors.New("azurearm: invalid")

// IdentityHolder keeps the user-assigned identities of a scale set: the
// lab's node metadata service, whose tokens follow them
// (*azureimds.Handler is one).
type IdentityHolder interface {
	// Assigned lists the resource IDs of the assigned identities.
	Assigned() []string
	// Patch applies ARM's identity patch body
	// {"identity":{"userAssignedIdentities":{"ID":{},"OTHER":null}}}.
	Patch(body []byte) error
}

// ManagedIdentities finds user-assigned managed identities by resource ID;
// *entra.Handler is one.
type ManagedIdentities interface {
	FindManagedIdentity(entra.IdentitySelector) (entra.App, bool)
}

// ScaleSet is one virtual machine scale set: its place in ARM and the
// holder of its identities.
type ScaleSet struct {
	Subscription, ResourceGroup, Name, Location string
	Identity                                    IdentityHolder
}

// ID is the scale set's ARM resource ID.
func (s ScaleSet) ID() string {
	return "/subscriptions/" + s.Subscription + "/resourceGroups/" + s.ResourceGroup + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + s.Name
}

// scaleSetPath matches a scale set's ARM path; the literal segments
// compare case-insensitively, as ARM's do.
var scaleSetPath = regexp.MustCompile(`^/(?i:subscriptions)/([^/]+)/(?i:resourceGroups)/([^/]+)/(?i:providers/Microsoft\.Compute/virtualMachineScaleSets)/([^/]+)/?$`)

// scaleSetRef is a parsed scale set path.
type scaleSetRef struct{ sub, rg, name string }

// parseScaleSetPath reads a scale set's path; ok is false for any other.
func parseScaleSetPath(p string) (scaleSetRef, bool) {
	m := scaleSetPath.FindStringSubmatch(p)
	if m == nil {
		return scaleSetRef{}, false
	}
	return scaleSetRef{m[1], m[2], m[3]}, true
}

func (r scaleSetRef) id() string {
	return ScaleSet{Subscription: r.sub, ResourceGroup: r.rg, Name: r.name}.ID()
}

// AddScaleSet registers a scale set; its names are required.
func (h *Handler) AddScaleSet(s ScaleSet) error {
	if s.Subscription == "" || s.ResourceGroup == "" || s.Name == "" || s.Identity == nil {
		return fmt.Errorf("scale set %q: %w: subscription, resource group, name and identity holder are required", s.Name, ErrInvalid)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.scaleSets[strings.ToLower(s.ID())] = s
	return nil
}

func (h *Handler) scaleSet(r scaleSetRef) (ScaleSet, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	s, ok := h.scaleSets[strings.ToLower(r.id())]
	return s, ok
}

// AssignRole adds a role assignment of Resource Manager's RBAC.
func (h *Handler) AssignRole(ra RoleAssignment) error { return h.rbac.add(ra) }

// identityPatch is the body of a scale set update as far as the emulator
// reads it: the identity property.
type identityPatch struct {
	Identity *struct {
		Type                   string                     `json:"type"`
		UserAssignedIdentities map[string]json.RawMessage `json:"userAssignedIdentities"`
	} `json:"identity"`
}

// parseIdentityPatch reads a PATCH body: the identities to add ({}) and
// to remove (null), each sorted, and the type asked for. It never panics.
func parseIdentityPatch(body []byte) (typ string, add, remove []string, err error) {
	var p identityPatch
	if err := json.Unmarshal(body, &p); err != nil {
		return "", nil, nil, fmt.Errorf("%w: %v", errBodyParse, err)
	}
	if p.Identity == nil {
		return "", nil, nil, nil
	}
	for id, v := range p.Identity.UserAssignedIdentities {
		if strings.TrimSpace(string(v)) == "null" {
			remove = append(remove, id)
		} else {
			add = append(add, id)
		}
	}
	sort.Strings(add)
	sort.Strings(remove)
	return p.Identity.Type, add, remove, nil
}

var errBodyParse = errors.New("body")

// serveScaleSet answers GET and PATCH of a scale set; the caller has
// authenticated the request and checked api-version.
func (h *Handler) serveScaleSet(w http.ResponseWriter, r *http.Request, ref scaleSetRef, claims *entra.Claims, d *decision) *armError {
	scope := ref.id()
	action := ActionScaleSetRead
	if r.Method == http.MethodPatch {
		action = ActionScaleSetWrite
	}
	d.Action, d.Resource = action, scope
	if !h.rbac.allowed(claims.ObjectID, action, scope) {
		return errAuthorization(callerOf(claims), claims.ObjectID, action, scope)
	}
	s, ok := h.scaleSet(ref)
	if !ok {
		return errNotFound("Microsoft.Compute/virtualMachineScaleSets/"+ref.name, ref.rg)
	}
	if r.Method == http.MethodPatch {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return errInvalidBody(err.Error())
		}
		typ, add, remove, err := parseIdentityPatch(body)
		if err != nil {
			return errInvalidBody(err.Error())
		}
		if typ != "" && !slices.Contains([]string{"UserAssigned", "None"}, typ) {
			return errInvalidIdentityType(typ)
		}
		var denied []string
		for _, id := range add {
			if !h.rbac.allowed(claims.ObjectID, ActionIdentityAssign, id) {
				denied = append(denied, id)
			}
		}
		if len(denied) > 0 {
			return errLinkedAuthorization(callerOf(claims), claims.ObjectID, action, s.ID(), denied)
		}
		for _, id := range add {
			if _, ok := h.opts.Identities.FindManagedIdentity(entra.IdentitySelector{ResourceID: id}); !ok {
				return errIdentityNotFound(s.ID(), id)
			}
		}
		if typ == "None" {
			remove = append(remove, s.Identity.Assigned()...)
			add = nil
		}
		patch := map[string]map[string]map[string]*struct{}{"identity": {"userAssignedIdentities": {}}}
		for _, id := range remove {
			patch["identity"]["userAssignedIdentities"][id] = nil
		}
		for _, id := range add {
			patch["identity"]["userAssignedIdentities"][id] = &struct{}{}
		}
		raw, err := json.Marshal(patch)
		if err == nil {
			err = s.Identity.Patch(raw)
		}
		if err != nil {
			return errIdentityNotFound(s.ID(), err.Error())
		}
		d.Reason = fmt.Sprintf("scale set %s: identities assigned %v, removed %v", s.Name, add, remove)
	} else {
		d.Reason = "read scale set " + s.Name
	}
	writeJSON(w, http.StatusOK, h.scaleSetJSON(s))
	return nil
}

// callerOf is what ARM's authorization messages call the client: the
// object ID for a managed identity (its token carries xms_mirid; ARM
// printed the object ID twice for AKS's kubelet identity in
// Azure/aad-pod-identity#778 and #585), else the application ID.
func callerOf(c *entra.Claims) string {
	if _, ok := c.Raw["xms_mirid"]; ok {
		return c.ObjectID
	}
	return c.AppID
}

// scaleSetBody is a scale set as Virtual Machine Scale Sets - Get answers
// it, with the properties the lab has.
type scaleSetBody struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Identity   *identityBody     `json:"identity,omitempty"`
	Properties map[string]string `json:"properties"`
}

type identityBody struct {
	Type                   string                      `json:"type"`
	UserAssignedIdentities map[string]userAssignedBody `json:"userAssignedIdentities,omitempty"`
}

type userAssignedBody struct {
	PrincipalID string `json:"principalId"`
	ClientID    string `json:"clientId"`
}

func (h *Handler) scaleSetJSON(s ScaleSet) scaleSetBody {
	b := scaleSetBody{ID: s.ID(), Name: s.Name, Type: "Microsoft.Compute/virtualMachineScaleSets", Location: s.Location,
		Properties: map[string]string{"provisioningState": "Succeeded"}}
	if ids := s.Identity.Assigned(); len(ids) > 0 {
		b.Identity = &identityBody{Type: "UserAssigned", UserAssignedIdentities: map[string]userAssignedBody{}}
		for _, id := range ids {
			mi, _ := h.opts.Identities.FindManagedIdentity(entra.IdentitySelector{ResourceID: id})
			b.Identity.UserAssignedIdentities[id] = userAssignedBody{PrincipalID: mi.PrincipalID(), ClientID: mi.ClientID}
		}
	}
	return b
}
