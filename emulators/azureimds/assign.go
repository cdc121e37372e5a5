package azureimds

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/idlab/idlab/emulators/entra"
)

// ErrUnknownIdentity is wrapped by Assign for a resource ID no managed
// identity has (ARM answers such a PATCH with a 400 of its own).
var ErrUnknownIdentity = errors.New("azureimds: no such user-assigned identity")

// Assign assigns the user-assigned identity with the ARM resource ID id to
// the VM; assigning it again changes nothing.
func (h *Handler) Assign(id string) error {
	mi, ok := h.opt.Identities.FindManagedIdentity(entra.IdentitySelector{ResourceID: id})
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownIdentity, id)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !slices.ContainsFunc(h.assigned, func(a string) bool { return strings.EqualFold(a, mi.ResourceID()) }) {
		h.assigned = append(h.assigned, mi.ResourceID())
		h.log.Info("imds identity assigned", "vm", h.opt.VM, "identity", mi.ResourceID(), "client_id", mi.ClientID)
	}
	return nil
}

// Unassign removes the identity from the VM; an identity not assigned is
// no error, as ARM.
func (h *Handler) Unassign(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.assigned = slices.DeleteFunc(h.assigned, func(a string) bool {
		if strings.EqualFold(a, strings.TrimSuffix(id, "/")) {
			h.log.Info("imds identity removed", "vm", h.opt.VM, "identity", a)
			return true
		}
		return false
	})
}

// Assigned lists the resource IDs of the identities assigned to the VM.
func (h *Handler) Assigned() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.assigned)
}

// IdentityProperty is the VM's identity property as ARM shows it.
type IdentityProperty struct {
	Type                   string                          `json:"type"`
	UserAssignedIdentities map[string]*UserAssignedDetails `json:"userAssignedIdentities,omitempty"`
}

// UserAssignedDetails are what ARM lists for each assigned identity.
type UserAssignedDetails struct {
	PrincipalID string `json:"principalId,omitempty"`
	ClientID    string `json:"clientId,omitempty"`
}

// Identity returns the VM's identity property: type None or UserAssigned.
func (h *Handler) Identity() IdentityProperty {
	p := IdentityProperty{Type: "None"}
	for _, id := range h.Assigned() {
		mi, ok := h.opt.Identities.FindManagedIdentity(entra.IdentitySelector{ResourceID: id})
		if !ok {
			continue
		}
		if p.UserAssignedIdentities == nil {
			p.Type, p.UserAssignedIdentities = "UserAssigned", map[string]*UserAssignedDetails{}
		}
		p.UserAssignedIdentities[id] = &UserAssignedDetails{PrincipalID: mi.PrincipalID(), ClientID: mi.ClientID}
	}
	return p
}

// Patch applies an ARM-shaped identity patch: each key of
// userAssignedIdentities is assigned ({}) or removed (null). Nothing is
// applied when one identity is unknown.
func (h *Handler) Patch(body []byte) error {
	var doc struct {
		Identity struct {
			UserAssignedIdentities map[string]*UserAssignedDetails `json:"userAssignedIdentities"`
		} `json:"identity"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("azureimds: identity patch: %w", err)
	}
	for id, v := range doc.Identity.UserAssignedIdentities {
		if _, ok := h.opt.Identities.FindManagedIdentity(entra.IdentitySelector{ResourceID: id}); v != nil && !ok {
			return fmt.Errorf("%w: %s", ErrUnknownIdentity, id)
		}
	}
	for id, v := range doc.Identity.UserAssignedIdentities {
		if v == nil {
			h.Unassign(id)
		} else if err := h.Assign(id); err != nil {
			return err
		}
	}
	return nil
}

// AdminHandler serves the VM's identity assignment, for the lab's control
// plane only (ServeHTTP never answers it), at whatever path it is mounted:
// GET answers the identity property, PATCH applies Patch's body and
// answers the new property; a bad body gets 400.
func (h *Handler) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPatch:
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err == nil {
				err = h.Patch(body)
			}
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "BadRequest", "message": err.Error()}})
				return
			}
		default:
			w.Header().Set("Allow", "GET, PATCH")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": map[string]string{"code": "MethodNotAllowed"}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"identity": h.Identity()})
	})
}
