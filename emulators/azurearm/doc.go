// Package azurearm emulates the parts of Azure Resource Manager
// (management.azure.com) the lab's clients call: the tenant-level reads
// `az login` makes after Entra issued its token (Subscriptions - List,
// Tenants - List), and the identity property of a virtual machine scale
// set, which AAD Pod Identity's MIC reads and patches to assign
// user-assigned identities to a node; with ARM's bearer token checks, its
// RBAC and its error bodies.
//
// Endpoints (host management.azure.com, or any host for tests):
//
//   - GET /subscriptions?api-version=V: the subscriptions of the token's
//     tenant in which the token's service principal (its oid) holds a role
//     assignment at any scope (Options.Subscriptions; the lab's are those
//     of its storage accounts' role assignments, emulators/azureblob). The
//     body is {"value": [...], "count": {"type": "Total", "value": N}},
//     each subscription with id, authorizationSource "RoleBased",
//     managedByTenants, subscriptionId, tenantId, displayName, state
//     "Enabled" and subscriptionPolicies, as a real List answers
//     (goshlanguage/cerulean pkg/services/subscriptions/README.md quotes
//     one). Which subscriptions Azure lists for a principal whose only
//     role assignment is below the subscription (a container) Azure does
//     not document; listing every subscription the principal holds a role
//     assignment in is the lab's reading, stated here.
//
//   - GET /tenants?api-version=V: the token's tenant, with its display name
//     and domains (Options.Tenants; the lab's Entra).
//
//   - GET and PATCH /subscriptions/S/resourceGroups/RG/providers/
//     Microsoft.Compute/virtualMachineScaleSets/NAME?api-version=V: the
//     scale sets the lab registers (AddScaleSet; one per aks cluster, whose
//     identities are its node's IMDS's, emulators/azureimds). GET answers
//     id, name, type, location, identity {type UserAssigned,
//     userAssignedIdentities {ID: {principalId, clientId}}} and
//     properties.provisioningState. PATCH reads only the identity property
//     of the body MIC sends (pkg/cloudprovider/vmss.go UpdateIdentities,
//     Azure/aad-pod-identity e4e7eab: {"identity":{"type":"UserAssigned",
//     "userAssignedIdentities":{"ID":{},"OTHER":null}}}; type None removes
//     all), merges it as ARM does (omitted identities stay) and answers 200
//     with the scale set. Authorization, in ARM's order: the caller's role
//     assignments (AssignRole, or the fixture key roleAssignments) must
//     grant Microsoft.Compute/virtualMachineScaleSets/read or /write at the
//     scale set, else 403 AuthorizationFailed, before existence is
//     revealed (404 ResourceNotFound); each identity added needs
//     Microsoft.ManagedIdentity/userAssignedIdentities/assign/action at the
//     identity, else 403 LinkedAuthorizationFailed naming them; an identity
//     that does not exist is the compute provider's 400
//     FailedIdentityOperation (x-ms-failure-cause service). Roles: Virtual
//     Machine Contributor, Managed Identity Operator, Contributor and
//     Reader, with their built-in actions (rbac.go); AAD Pod Identity's
//     role-assignment page asks for the first two.
//
// Deliberate simplifications: scale sets only (no virtualMachines, no
// instances' own identities: the lab's node is one scale set instance);
// no system-assigned identity (type SystemAssigned is a 400); a PATCH is
// applied at once and answered 200 with provisioningState Succeeded, with
// no Azure-AsyncOperation to poll; no throttling or Retry-After; role
// assignments have no conditions, deny assignments or notActions.
//
// Every request is checked in ARM's order: an Authorization header
// (missing: 401 AuthenticationFailed), a Bearer token that verifies
// (401 InvalidAuthenticationToken, or ExpiredAuthenticationToken with the
// expiry and current UTC times), an audience ARM accepts (401
// InvalidAuthenticationTokenAudience naming the four allowed audiences,
// worded as ARM words it in Azure-Samples/active-directory-dotnetcore-daemon-v2#145
// and JetBrains/azure-tools-for-intellij#16), then api-version (400
// MissingApiVersionParameter). Errors are {"error": {"code", "message"}}
// with x-ms-failure-cause: gateway (ARM's front door answered, as the 401
// traced in Azure/azure-powershell#12544 shows). Other paths get the
// lab's own 404, which names what it serves: the lab emulates no more of
// ARM.
//
// Every request to these endpoints leaves an entry in the lab's decision
// log (Cloud azure, Service azurearm; Action
// Microsoft.Resources/subscriptions/read, .../tenants/read or the scale
// set's read or write) and one slog line: decision, principal, action,
// resource, reason, request_id.
package azurearm
