// Package azurearm emulates the tenant-level reads of Azure Resource
// Manager (management.azure.com) that `az login` makes after Entra issued
// its token: Subscriptions - List and Tenants - List, with ARM's bearer
// token checks and error bodies, so that an unmodified azure-cli in the
// lab's aks cluster can log in with a federated token.
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
//   - GET /tenants?api-version=V: the token's tenant, with its display name
//     and domains (Options.Tenants; the lab's Entra).
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
// traced in Azure/azure-powershell#12544 shows). Paths other than these two get the
// lab's own 404, which names what it serves: the lab emulates no more of
// ARM.
//
// Every request to these two endpoints leaves an entry in the lab's
// decision log (Cloud azure, Service azurearm; Action
// Microsoft.Resources/subscriptions/read or .../tenants/read) and one slog
// line: decision, principal, action, resource, reason, request_id.
package azurearm
