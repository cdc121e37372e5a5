// Package azurewebhook is the lab's own implementation of the Azure Workload
// Identity mutating admission webhook (github.com/Azure/azure-workload-identity,
// pkg/webhook), whose Go module cannot be downloaded here.
//
// It reproduces release v1.6.0 (tag v1.6.0, commit 04d01a2, 2026-06-11) by
// default and v1.5.1 (commit 30e0f1b) with Options.Release, for the lab's
// "aks" kind cluster: an unmodified azidentity.NewWorkloadIdentityCredential
// in a pod finds AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE
// and AZURE_AUTHORITY_HOST and trades the projected token with the lab's
// Entra emulator (emulators/entra).
//
// What upstream's handler does, and this one with it:
//
//   - Selection is the MutatingWebhookConfiguration's (Config): pods
//     labelled azure.workload.identity/use: "true". The handler itself
//     mutates any pod it is sent, as upstream's.
//   - The pod is decoded with the universal deserializer of client-go's
//     scheme, as controller-runtime's decoder does, so a pod that cannot be
//     decoded is refused with the same message.
//   - The ServiceAccount (default when the pod names none) comes from a
//     list+watch cache, or on a miss from a GET (upstream's API reader). A
//     lookup error refuses the pod with the error's text.
//   - azure.workload.identity/inject-proxy-sidecar, present with any value,
//     asks for the proxy: a hostNetwork pod is refused, an
//     azure.workload.identity/proxy-sidecar-port that is not a 32-bit
//     integer is refused, otherwise the init container azwi-proxy-init is
//     appended and the sidecar azwi-proxy put first among the containers, or
//     first among the init containers with restartPolicy Always when the
//     API server is 1.32 or newer.
//   - Token expiration: the pod's
//     azure.workload.identity/service-account-token-expiration, else the
//     ServiceAccount's, else 3600; not an integer or outside 3600..86400
//     refuses the pod.
//   - Every container and init container not named in
//     azure.workload.identity/skip-containers (";"-separated, spaces
//     trimmed) gets the four variables, each unless it has a variable of
//     that name or the value is empty (client-id from the ServiceAccount;
//     tenant-id from it when present, even empty, else Options.TenantID;
//     the authority host of Options.Cloud), and the token mount.
//   - The layout: v1.6.0 names the projected volume
//     azure-workload-identity-reserved- and 30 hex digits of the SHA-256 of
//     the pod's name (or "GENERATENAME (prefix)"), mounts it read-only at
//     /var/run/secrets/azure/wi with the token at token/azure-identity-token,
//     and replaces a volume or mount of that name; v1.5.1 uses the volume
//     azure-identity-token at /var/run/secrets/azure/tokens with the token at
//     azure-identity-token and leaves an existing mount of that name, or a
//     projected token at that path, alone.
//   - Refusals are HTTP 400 in the AdmissionResponse status with upstream's
//     message; an allowed answer carries status code 200, as
//     controller-runtime completes it.
//
// Upstream's own test tables (pkg/webhook/webhook_test.go at both tags) run
// against this package in upstream_test.go: all 61 v1.6.0 cases and the 13
// v1.5.1 cases that differ from them pass unchanged. What differs from
// upstream on purpose, none of it covered by those cases:
//
//	behaviour            upstream                          here, and why
//	-------------------  --------------------------------  ------------------------------------------
//	patch form           diff of the request's raw pod     operations under /spec only, between the
//	                     and the re-encoded pod            spec before and after (internal/patchdiff):
//	                     (PatchResponseFromRaw)            the same pod once applied, and fields the
//	                                                       Go types do not know are kept, not removed
//	requests handled     decodes whatever it is sent       anything but a pod CREATE is allowed
//	                                                       untouched; the configuration sends no other
//	AdmissionReview      v1 and v1beta1                    v1 only: every API server the lab runs
//	                                                       sends v1
//	tenant               AZURE_TENANT_ID required to       Options.TenantID may be empty (the zero
//	                     start                             Options work); AZURE_TENANT_ID is then
//	                                                       injected only from the annotation
//	authority host       from AZURE_ENVIRONMENT only       Options.AuthorityHost may set it directly
//	                                                       for the lab; the default is the same
//	AzureStackCloud      read from AZURE_ENVIRONMENT_      refused (ErrUnknownCloud): no lab cloud
//	                     FILEPATH                          needs it
//	custom token         v1.6.0's --custom-token-          not emulated: the lab has no identity
//	endpoint             endpoint-* (off by default)       binding proxy to send tokens to
//	certificates,        self-rotated certificates,        the lab mounts a certificate it made;
//	metrics              Prometheus metrics                decisions go to the log instead
//
// A ServiceAccount cache miss is served by a GET, so a ServiceAccount
// created a moment before its pod is found, as upstream.
package azurewebhook
