// Package azureimds emulates the managed-identity token endpoint of the
// Azure Instance Metadata Service (IMDS) at http://169.254.169.254 for one
// virtual machine: what azidentity's ManagedIdentityCredential (through
// MSAL's managedidentity client), az login --identity and AAD Pod
// Identity's NMI call on an AKS node.
//
// GET /metadata/identity/oauth2/token (the /metadata segment in any case,
// as IMDS; NMI's server.go matches it so too) with the header
// Metadata: true and the query api-version, resource and at most one of
// client_id, object_id, msi_res_id or mi_res_id. The VM's identities are the
// user-assigned managed identities assigned to it (Assign, or the admin
// API); tokens come from the Entra emulator (Options.Identities), which
// mints them exactly as for any principal plus xms_mirid, so resource
// emulators (azureblob) verify them like any Entra token. Answers, checked
// in this order, all application/json; charset=utf-8:
//
//	400 {"error":"invalid_request","error_description":"Required metadata header not specified"}
//	    Metadata is not exactly "true" (as NMI reproduces it,
//	    Azure/aad-pod-identity pkg/nmi/server/server.go metadataNotSpecifiedError,
//	    commit e4e7eab)
//	400 {"error":"Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds","newest-versions":[...]}
//	    (Microsoft Learn, Azure Instance Metadata Service, "Versioning")
//	400 {"error":"invalid_request","error_description":"Required audience parameter not specified"}
//	    no resource
//	400 {"error":"invalid_request","error_description":"Identity not found"}
//	    no identity assigned, or none that the selector names (the body
//	    azidentity's own test uses: sdk/azidentity
//	    managed_identity_client_test.go TestManagedIdentityClient_IMDSErrors)
//	400 {"error":"invalid_request","error_description":"Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"}
//	    several assigned and none named
//	400 {"error":"invalid_resource","error_description":"AADSTS500011: ..."}
//	    Entra refused the resource
//	200 {"access_token","client_id","expires_in","expires_on","ext_expires_in","not_before","resource","token_type":"Bearer"}
//	    all values strings, as IMDS writes them
//
// A token is cached per identity and resource and handed out again while
// more than five minutes of it remain, as the managed identities service
// caches (expires_in then counts down). Every answer of the token endpoint
// leaves a decision (Service azureimds, Action imds:GetToken, Principal the
// caller's address, Resource the VM) and one slog line; Entra logs the
// tokens it mints.
//
// Deliberate differences from Azure, stated so nobody relies on them:
//
//   - Identity assignment is ARM's elsewhere. Azure assigns a user-assigned
//     identity to a VM or scale set with a PATCH of its identity property
//     through ARM (what AAD Pod Identity's MIC does, pkg/cloudprovider/
//     vmss.go); the lab's Resource Manager (emulators/azurearm) serves that
//     PATCH for the aks node's scale set, with its RBAC, and calls Patch
//     here. Assign/Unassign and the control plane's admin API
//     (AdminHandler) take the same body shape as ARM's identity property:
//     {"identity":{"userAssignedIdentities":{"RESOURCE_ID":{},"OTHER":null}}}
//     (null removes) and answer the identity property.
//   - No system-assigned identity: a VM without user-assigned identities
//     answers "Identity not found".
//   - Only the token endpoint: /metadata/instance and the other IMDS paths
//     answer 404, and a request carrying X-Forwarded-For is not refused.
//   - With more than one selector, client_id wins over object_id over
//     msi_res_id/mi_res_id (IMDS's own answer to that is not documented).
package azureimds
