package azureblob

import (
	"fmt"
	"strings"

	"github.com/idlab/idlab/emulators/entra"
)

// Data actions of Azure RBAC for blobs.
const (
	ActionBlobRead   = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
	ActionBlobWrite  = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
	ActionBlobDelete = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete"
	ActionBlobAdd    = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action"
	ActionBlobMove   = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action"
	actionBlobAll    = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"
)

// Built-in roles and the data actions they grant (Azure's definitions).
const (
	RoleReader      = "Storage Blob Data Reader"
	RoleContributor = "Storage Blob Data Contributor"
	RoleOwner       = "Storage Blob Data Owner"
)

var builtinRoles = map[string][]string{
	RoleReader:      {ActionBlobRead},
	RoleContributor: {ActionBlobRead, ActionBlobWrite, ActionBlobDelete, ActionBlobAdd, ActionBlobMove},
	RoleOwner:       {actionBlobAll},
}

// RoleAssignment grants Role to the service principal PrincipalID at Scope,
// an ARM resource ID: a storage account or one of its containers.
type RoleAssignment struct {
	PrincipalID string `json:"principalId"`
	// Assignee is the client ID the fixture named (az role assignment create
	// --assignee); informational.
	Assignee string `json:"assignee,omitempty"`
	Role     string `json:"role"`
	Scope    string `json:"scope"`
}

// AssignmentFor resolves assignee (an app's client ID in tenant) to its
// service principal's object ID, as `az role assignment create --assignee`
// does.
func AssignmentFor(tenant, assignee, role, scope string) RoleAssignment {
	return RoleAssignment{PrincipalID: entra.App{Tenant: tenant, ClientID: assignee}.ObjectID(), Assignee: assignee, Role: role, Scope: scope}
}

func (ra RoleAssignment) validate() error {
	if ra.PrincipalID == "" || ra.Scope == "" {
		return fmt.Errorf("role assignment: principal and scope are required")
	}
	if _, ok := builtinRoles[ra.Role]; !ok {
		return fmt.Errorf("role assignment: unknown role %q (want %q, %q or %q)", ra.Role, RoleReader, RoleContributor, RoleOwner)
	}
	return nil
}

// grants reports whether ra gives action at scope: the role holds the
// action (or a wildcard over it) and scope lies at or below ra.Scope.
func (ra RoleAssignment) grants(action, scope string) bool {
	if !scopeContains(ra.Scope, scope) {
		return false
	}
	for _, a := range builtinRoles[ra.Role] {
		if strings.EqualFold(a, action) || strings.HasSuffix(a, "/*") && strings.HasPrefix(strings.ToLower(action), strings.ToLower(strings.TrimSuffix(a, "*"))) {
			return true
		}
	}
	return false
}

// scopeContains: ARM scopes compare case-insensitively, segment by segment.
func scopeContains(outer, inner string) bool {
	o, i := strings.ToLower(strings.TrimSuffix(outer, "/")), strings.ToLower(inner)
	return i == o || strings.HasPrefix(i, o+"/")
}

// accountScope is the ARM ID of a storage account.
func accountScope(a *account) string {
	return "/subscriptions/" + a.Subscription + "/resourceGroups/" + a.ResourceGroup + "/providers/Microsoft.Storage/storageAccounts/" + a.Name
}

// ContainerScope is the ARM ID of a container, the scope blob data actions
// are evaluated at.
func ContainerScope(subscription, resourceGroup, account, container string) string {
	return "/subscriptions/" + subscription + "/resourceGroups/" + resourceGroup + "/providers/Microsoft.Storage/storageAccounts/" + account + "/blobServices/default/containers/" + container
}
