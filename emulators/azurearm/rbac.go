package azurearm

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/idlab/idlab/emulators/entra"
)

// Actions of Resource Manager's compute and managed identity providers the
// emulator authorizes.
const (
	ActionScaleSetRead   = "Microsoft.Compute/virtualMachineScaleSets/read"
	ActionScaleSetWrite  = "Microsoft.Compute/virtualMachineScaleSets/write"
	ActionIdentityAssign = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"
)

// Built-in roles of Azure RBAC the emulator knows, with the control-plane
// actions of their definitions that matter here (Microsoft Learn, "Azure
// built-in roles": Virtual Machine Contributor 9980e02c-c2be-4d73-94e8-173b1dc7cf3c,
// Managed Identity Operator f1a07417-d97a-45cb-824c-7a7467783830, Contributor,
// Reader). AAD Pod Identity asks for the first two on the node resource
// group (Azure/aad-pod-identity website/content/en/docs/Getting started/
// role-assignment.md, e4e7eab): Virtual Machine Contributor writes the
// scale set, Managed Identity Operator assigns the identities; with the
// first only, ARM answers LinkedAuthorizationFailed.
const (
	RoleVMContributor           = "Virtual Machine Contributor"
	RoleManagedIdentityOperator = "Managed Identity Operator"
	RoleContributor             = "Contributor"
	RoleReader                  = "Reader"
)

var builtinRoles = map[string][]string{
	RoleVMContributor: {"Microsoft.Compute/virtualMachines/*", "Microsoft.Compute/virtualMachineScaleSets/*",
		"Microsoft.Compute/availabilitySets/*", "Microsoft.Compute/disks/*", "Microsoft.Resources/subscriptions/resourceGroups/read"},
	RoleManagedIdentityOperator: {"Microsoft.ManagedIdentity/userAssignedIdentities/*/read", "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
		"Microsoft.Authorization/*/read", "Microsoft.Resources/subscriptions/resourceGroups/read"},
	RoleContributor: {"*"},
	RoleReader:      {"*/read"},
}

// RoleAssignment grants Role to the principal PrincipalID (a service
// principal's object ID) at Scope, an ARM resource ID (a subscription, a
// resource group or a resource) and everything below it.
type RoleAssignment struct {
	PrincipalID string `json:"principalId"`
	// Assignee is the client ID the fixture named; informational.
	Assignee string `json:"assignee,omitempty"`
	Role     string `json:"role"`
	Scope    string `json:"scope"`
}

// AssignmentFor resolves assignee (an app's or managed identity's client
// ID in tenant) to its principal, as `az role assignment create --assignee`.
func AssignmentFor(tenant, assignee, role, scope string) RoleAssignment {
	return RoleAssignment{PrincipalID: entra.App{Tenant: tenant, ClientID: assignee}.ObjectID(), Assignee: assignee, Role: role, Scope: scope}
}

func (ra RoleAssignment) validate() error {
	if ra.PrincipalID == "" || !strings.HasPrefix(strings.ToLower(ra.Scope), "/subscriptions/") {
		return fmt.Errorf("role assignment: %w: a principal and a scope under /subscriptions/ are required", ErrInvalid)
	}
	if _, ok := builtinRoles[ra.Role]; !ok {
		return fmt.Errorf("role assignment: %w: unknown role %q (want %q, %q, %q or %q)", ErrInvalid, ra.Role,
			RoleVMContributor, RoleManagedIdentityOperator, RoleContributor, RoleReader)
	}
	return nil
}

// grants reports whether ra allows action at scope.
func (ra RoleAssignment) grants(action, scope string) bool {
	if !scopeContains(ra.Scope, scope) {
		return false
	}
	for _, p := range builtinRoles[ra.Role] {
		if actionMatches(p, action) {
			return true
		}
	}
	return false
}

// actionMatches reports whether the action pattern of a role definition
// covers action, case-insensitively: "*" matches any text, and a "/*/"
// between segments also matches no segment at all, so that
// .../userAssignedIdentities/*/assign/action covers
// .../userAssignedIdentities/assign/action as Azure evaluates it.
func actionMatches(pattern, action string) bool {
	parts := strings.Split(pattern, "/*/")
	for i, p := range parts {
		sub := strings.Split(p, "*")
		for j := range sub {
			sub[j] = regexp.QuoteMeta(sub[j])
		}
		parts[i] = strings.Join(sub, ".*")
	}
	re, err := regexp.Compile("(?i)^" + strings.Join(parts, "/(?:.*/)?") + "$")
	return err == nil && re.MatchString(action)
}

// scopeContains: ARM scopes compare case-insensitively, segment by segment.
func scopeContains(outer, inner string) bool {
	o, i := strings.ToLower(strings.TrimSuffix(outer, "/")), strings.ToLower(strings.TrimSuffix(inner, "/"))
	return i == o || strings.HasPrefix(i, o+"/")
}

// rbac holds the role assignments of Resource Manager.
type rbac struct {
	mu          sync.RWMutex
	assignments []RoleAssignment
}

func (r *rbac) add(ra RoleAssignment) error {
	if err := ra.validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, have := range r.assignments {
		if strings.EqualFold(have.PrincipalID, ra.PrincipalID) && have.Role == ra.Role && strings.EqualFold(have.Scope, ra.Scope) {
			return nil
		}
	}
	r.assignments = append(r.assignments, ra)
	return nil
}

// allowed reports whether principal may perform action at scope.
func (r *rbac) allowed(principal, action, scope string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, ra := range r.assignments {
		if strings.EqualFold(ra.PrincipalID, principal) && ra.grants(action, scope) {
			return true
		}
	}
	return false
}

// subscriptionsOf lists the subscriptions in which principal holds a role
// assignment.
func (r *rbac) subscriptionsOf(principal string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for _, ra := range r.assignments {
		if strings.EqualFold(ra.PrincipalID, principal) {
			parts := strings.Split(ra.Scope, "/")
			if len(parts) > 2 {
				out = append(out, parts[2])
			}
		}
	}
	return out
}
