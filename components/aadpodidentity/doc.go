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
// Not here yet: the controllers that run MIC and NMI in the cluster, the
// identity assignment through ARM, and their deployment (see the lab
// lead's report for this branch).
package aadpodidentity
