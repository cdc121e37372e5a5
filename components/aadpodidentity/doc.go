// Package aadpodidentity is the lab's implementation of AAD Pod Identity
// (github.com/Azure/aad-pod-identity, archived; our own code written from
// upstream's source at commit e4e7eab22ca44d110a05de46491948d365a63905,
// v1.8.17; upstream's module is not used): the CRDs of
// aadpodidentity.k8s.io/v1, MIC's matching of pods to identities and
// NMI's choice of a pod's identity and its refusals.
//
// MIC (pkg/mic/mic.go createDesiredAssignedIdentityList, makeAssignedIDs):
// a scheduled pod whose aadpodidbinding label equals an
// AzureIdentityBinding's spec.selector gets an AzureAssignedIdentity for
// the AzureIdentity the binding names, looked up in the binding's own
// namespace; the pod's namespace is not compared unless MIC runs with
// --forceNamespaced or the identity carries the annotation
// aadpodidentity.k8s.io/Behavior: namespaced, then identity, binding and
// pod must share one namespace. That is the documented weakness
// (website/content/en/docs/Configure/match_pods_in_namespace.md): without
// namespaced mode a pod of any namespace that copies the label gets the
// identity. The assigned identity is named POD-PODNAMESPACE-IDENTITY, in
// namespace "default" (or the identity's, namespaced), as upstream.
//
// NMI (pkg/nmi/standard.go GetIdentities, pkg/nmi/server/server.go
// msiHandler): the pod's assigned identities in state Assigned, filtered
// to the pod's namespace when namespaced; the first when the request names
// none, else the one whose client ID or resource ID it names. A pod with no
// assigned identity is refused with 404 and upstream's text (Refusal).
// Iptables (pkg/nmi/iptables/iptables.go): chain aad-metadata in nat
// PREROUTING sends pods' 169.254.169.254:80 traffic not from 127.0.0.1 to
// NMI; the node's own processes and hostNetwork pods (nat OUTPUT) are not
// redirected and reach IMDS directly, with every identity MIC put on the
// node: the second documented weakness (website/content/en/docs/Concepts/
// nmi.md, "redirect all non-host traffic", Azure/aad-pod-identity#858;
// Azure/aad-pod-identity#826, a hostNetwork pod's curl answered by IMDS
// itself, "Identity not found" while nothing was on the node).
//
// Running (idlab aadpodidentity mic|nmi|nmi-iptables; Manifests, CRDs):
// MIC (MIC.Sync, PlanSync) lists the labelled pods, identities, bindings,
// assigned identities and nodes, creates the AzureAssignedIdentity
// (status Created, upstream's finalizer), GETs and PATCHes the node's
// scale set identity through Resource Manager (ARM, IdentityPatch: upstream's
// SetUserIdentities) with a token of its azure.json's user-assigned
// identity from IMDS, which NMI lets MIC's pods reach (isMIC), then sets
// status Assigned; assigned identities of pods gone are deleted and their
// identity removed unless another pod on the scale set uses it. NMI
// (NMI.ServeHTTP) routes as upstream's server.go: the token path
// (msiHandler: pod by source IP, exceptions and MIC straight to IMDS,
// else ListStep's retries and ChooseIdentity, the token from IMDS with the
// identity's client ID re-encoded as msiResponse), the invalid token path
// (400 "Invalid request"), /host/token, /metadata/instance when blocked
// (403), everything else proxied to IMDS. Its init container installs the
// aad-metadata chain (InstallChain, ChainCommands) through the host's /.
//
// Simplifications, stated so nobody relies on them: MIC polls every
// --sync-interval (2 s in the lab) instead of reacting to informer events,
// runs one replica without leader election, authenticates only as a
// managed identity (useManagedIdentityExtension; the lab's Entra has no
// client secrets), handles scale sets only, maps a node whose providerID
// is not Azure's (kind's) to azure.json's primaryScaleSetName, emits no
// Kubernetes events and does not retry an update after dropping the
// identities named in a LinkedAuthorizationFailed; NMI looks pods up
// through the API server (field selectors on node and IP) instead of an
// informer, installs its chain once at start (init container) instead of
// every --ipt-update-interval-sec and does not remove it on exit, has no
// managed mode, no Retry-After (--set-retry-after-header), no conntrack
// deletion and no metrics, and answers identities of type 1 and 2
// (service principals) 403 "unsupported identity type"; the CRDs keep spec
// and status unpruned instead of upstream's schemas. adal's error text for
// an IMDS refusal is reproduced as go-autorest v0.9's ("adal: Refresh
// request failed. Status Code = 'N'. Response body: BODY Endpoint URL").
package aadpodidentity
