// Package azurewebhook is the lab's own implementation of the Azure Workload
// Identity mutating admission webhook (github.com/Azure/azure-workload-identity,
// pkg/webhook), whose Go module cannot be downloaded here. It reproduces the
// released (v1.x) webhook's mutation for the lab's "aks" kind cluster, so an
// unmodified azidentity.NewWorkloadIdentityCredential in a pod finds
// AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE and
// AZURE_AUTHORITY_HOST and trades the projected token with the lab's Entra
// emulator (emulators/entra).
//
// What is emulated:
//
//   - Selection: pods labelled azure.workload.identity/use: "true". Upstream
//     relies on the MutatingWebhookConfiguration's objectSelector (see
//     Config); Mutate checks the label too, so a pod without it is never
//     patched even under a configuration without the selector.
//   - ServiceAccount annotations: azure.workload.identity/client-id (no value,
//     no AZURE_CLIENT_ID; the pod is still mutated, as upstream),
//     azure.workload.identity/tenant-id (when present, even empty, it wins
//     over Options.TenantID, as upstream), and
//     azure.workload.identity/service-account-token-expiration.
//   - Pod annotations: azure.workload.identity/service-account-token-expiration
//     (wins over the ServiceAccount's), azure.workload.identity/skip-containers
//     (container names separated by ";", spaces trimmed).
//     Token expiration defaults to 3600 and must lie in 3600..86400; an
//     unparsable or out-of-range value refuses the pod (HTTP 400 in the
//     AdmissionResponse status), as upstream does.
//   - Mutation, init containers first and then containers, each not skipped:
//     the four variables appended in that order, each only when the
//     container has no variable of that name and the value is not empty
//     (upstream's rule: an existing variable is never overridden, whatever
//     its value or source); a read-only mount of volume azure-identity-token
//     at /var/run/secrets/azure/tokens unless the container already mounts a
//     volume of that name. The pod gets the projected volume
//     azure-identity-token {serviceAccountToken: audience
//     api://AzureADTokenExchange, expirationSeconds, path
//     azure-identity-token} unless a projected volume already holds a
//     service-account token at that path.
//   - ServiceAccount lookup: a list+watch cache of ServiceAccounts (upstream's
//     controller-runtime cache; client-go's SharedInformer cannot be built
//     from this go.mod) and, on a miss, a GET against the API server (the
//     upstream "API reader"). A ServiceAccount that does not exist refuses
//     the pod, as upstream.
//   - Admission: POST /mutate (and upstream's /mutate-v1-pod) with
//     admission.k8s.io/v1 AdmissionReview; a JSONPatch response.
//
// Not emulated: the proxy sidecar (azure.workload.identity/inject-proxy-sidecar
// and proxy-sidecar-port are ignored and logged: the lab's SDKs all support
// federated tokens), the custom token endpoint / identity binding of newer
// upstream versions, and the per-pod reserved volume names of unreleased
// upstream HEAD.
package azurewebhook
