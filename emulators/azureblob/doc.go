// Package azureblob emulates the part of Azure Blob Storage that pods in
// the lab's "aks" cluster reach with Microsoft Entra bearer tokens (Azure
// Workload Identity): Get Blob, Get Blob Properties, Put Blob (block blobs)
// and List Blobs, as the unmodified azblob SDK calls them, each
// authenticated with an access token from the lab's Entra emulator and
// authorized by Azure RBAC role assignments (Storage Blob Data Reader,
// Contributor, Owner) scoped to the account or to one container. Azurite
// accepts any bearer token without checking its signature or roles, so the
// lab carries its own.
//
// Addressing: https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB (how pods
// reach it through cluster DNS), or path-style
// https://127.0.0.1:PORT/ACCOUNT/CONTAINER/BLOB on a loopback host (tests),
// as Azurite does.
//
// Each request is checked in Azure Storage's order, with its status codes,
// x-ms-error-code values and XML error bodies:
//
//  1. Addressing: a host naming no account of the emulator answers 404
//     ResourceNotFound (in Azure its DNS name would not resolve); a
//     container or blob name that breaks the naming rules is 400
//     InvalidResourceName; operations not emulated are 400
//     InvalidQueryParameterValue or 405 UnsupportedHttpVerb.
//  2. Authentication: no Authorization header is 401
//     NoAuthenticationInformation; another scheme than Bearer, or Bearer
//     with an x-ms-version older than 2017-11-09, is 403
//     AuthenticationFailed with its AuthenticationErrorDetail; a token that
//     does not verify (signature, expiry, issuer of another tenant than the
//     account's, an audience other than https://storage.azure.com or the
//     account's own URL) is 401 InvalidAuthenticationInfo with the detail
//     Azure gives ("Lifetime validation failed. The token is expired.",
//     "Audience validation failed. Audience did not match.", "Issuer
//     validation failed. Issuer did not match.", "Signature validation
//     failed..."). Every 401 carries the bearer challenge
//     WWW-Authenticate: Bearer
//     authorization_uri=https://login.microsoftonline.com/TENANT/oauth2/authorize
//     resource_id=https://storage.azure.com, which the azblob SDK reads to
//     ask for a new token once.
//  3. Authorization: the token's oid (the service principal's object ID)
//     needs a role assignment whose role grants the data action
//     (Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read
//     or .../write) at a scope containing the container; otherwise 403
//     AuthorizationPermissionMismatch "This request is not authorized to
//     perform this operation using this permission.". As in Azure, this
//     comes before existence: a principal without access cannot learn
//     whether a container exists.
//  4. Existence: 404 ContainerNotFound, 404 BlobNotFound.
//
// Every request to a known account leaves an entry in the lab's decision
// log (Options.Decisions; Service azureblob, the container in
// Detail["container"], the app in Detail["appId"]), refused
// authentication included (Handler.Decisions, or the lab's GET
// /_idlab/decisions) and one slog line:
// decision, principal, action, resource, reason, request_id. Responses
// carry x-ms-request-id, x-ms-version and, for errors, x-ms-error-code.
//
// Blobs persist under Options.DataDir; accounts and role assignments are
// configuration (fixtures), applied at every start.
package azureblob
