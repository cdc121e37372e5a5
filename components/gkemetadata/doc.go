// Package gkemetadata is the GKE metadata server of the lab: what runs on
// every node of a GKE cluster with Workload Identity (GKE_METADATA mode),
// so that unmodified Google SDKs in pods (cloud.google.com/go/compute/metadata,
// golang.org/x/oauth2/google, cloud.google.com/go/auth) get the identity of
// their Kubernetes service account (KSA) from 169.254.169.254.
//
// It is an in-cluster component (one per node, a hostNetwork DaemonSet
// listening on Port 988 as GKE's does; Manifests) and, unlike the cloud
// emulators, talks to Google over real HTTP: in the lab sts.googleapis.com
// and iamcredentials.googleapis.com resolve (cluster DNS) to the gcpiam
// emulator.
//
// The flow for a request to instance/service-accounts/default/token, as
// GKE does it:
//
//  1. The caller is the pod whose IP is the connection's source address
//     (pods with status.podIP == IP and spec.nodeName == this node);
//     callers from the node's IP or hostNetwork pods are the node.
//     Pods and KSAs come from informers (Handler.Start: a watch of the
//     node's pods indexed by IP, and of every KSA), so a known caller
//     costs the API server nothing. A pod that has ended (Succeeded,
//     Failed) or is being deleted is never the caller, so a reused IP is
//     its new pod's; of two live pods with one IP, a Running one, then
//     the newer. An IP with no pod waits for the watch to bring one (a
//     first call can beat the kubelet's status update; GKE documents a
//     few seconds before a new pod is served), up to
//     Options.PodLookupWait; an IP in none of the node's pod ranges
//     (spec.podCIDRs, read at Start) cannot become one of its pods and
//     gets the 404 at once (the lab's choice: GKE does not document it,
//     and its clients give up after 5 s, before the wait would end).
//  2. A token of the pod's KSA is requested from the API server
//     (TokenRequest, audience PROJECT.svc.id.goog, bound to the pod).
//  3. It is exchanged at Google STS (POST https://sts.googleapis.com/v1/token,
//     audience identitynamespace:PROJECT.svc.id.goog:ISSUER_URL) for a
//     federated access token of serviceAccount:PROJECT.svc.id.goog[NS/KSA].
//  4. When the KSA is annotated iam.gke.io/gcp-service-account: GSA_EMAIL,
//     IAM Credentials generateAccessToken (or generateIdToken for
//     .../identity) is called for that GSA with the federated token; IAM
//     requires roles/iam.workloadIdentityUser for the KSA's member on the
//     GSA. Without the annotation the federated token itself is returned
//     and the account's email is PROJECT.svc.id.goog (Workload Identity
//     Federation for GKE without impersonation); ID tokens then answer 404
//     with GKE's "is not annotated with a target Google service account"
//     text.
//
// Tokens are cached per (pod, KSA, GSA, scopes or audience) until five
// minutes before they expire.
//
// Paths (below /computeMetadata/v1/; directories with or without the
// trailing slash, ?recursive=true answers JSON): "" (instance/, project/),
// project/project-id, project/numeric-project-id, instance/id, name,
// hostname, zone (projects/NUMBER/zones/ZONE), instance/attributes/
// cluster-name and cluster-location, universe/universe-domain,
// instance/service-accounts/ ("default/\nEMAIL/\n") and, for "default" or
// the caller's email, .../email, aliases, scopes, token (?scopes=a,b;
// {"access_token","expires_in","token_type":"Bearer"}) and identity
// (?audience=A[&format=full]). "/" answers "computeMetadata/\n" as GKE's.
// Project and instance values are served to any caller; service-account
// paths need a pod on this node.
//
// Answers: every response carries Metadata-Flavor: Google and Server: GKE
// Metadata Server; values are Content-Type application/text, JSON
// application/json; errors text/plain:
//
//   - no Metadata-Flavor: Google header (GKE ignores the legacy
//     X-Google-Metadata-Request): 403 `Missing required header
//     "Metadata-Flavor": "Google"` (GKE's text);
//   - an X-Forwarded-For header: 403 (the metadata server refuses proxied
//     requests; the body text is the lab's);
//   - IAM refusing generateAccessToken / generateIdToken: IAM's status
//     (403 for a missing binding) with GKE's body "Unable to generate access
//     token; IAM returned 403 Forbidden: Permission
//     'iam.serviceAccounts.getAccessToken' denied on resource (or it may not
//     exist).\nThis error could be caused by a missing IAM policy binding on
//     the target IAM service account.\n..." ("ID token" for identity);
//   - identity without audience: 400 "non-empty audience parameter
//     required";
//   - unknown paths, other accounts' emails, callers that are no pod of
//     this node: 404 (the SDKs' NotDefinedError); STS failures and API
//     server errors: 500. These texts are the lab's.
//
// The node's own identity (hostNetwork callers, which the OUTPUT-chain DNAT
// sends here) is Options.NodeServiceAccount with tokens from
// Options.NodeToken, or else from Options.NodeKSA's workload identity (the
// lab's model of a node's VM identity); with neither its token requests
// answer 404.
//
// Every allow and deny is logged with decision, principal, action,
// resource, reason and request_id.
//
// In a cluster the node must send 169.254.169.254:80 to the server:
// InstallDNAT (the DaemonSet's init container, `idlab gke-metadata
// install-dnat`) adds the nat PREROUTING DNAT rule on the host.
package gkemetadata
