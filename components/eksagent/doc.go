// Package eksagent is the lab's own EKS Pod Identity Agent
// (github.com/aws/eks-pod-identity-agent, the eks-pod-identity-agent add-on):
// the node-local HTTP server that pods mutated by the pod identity webhook's
// container-credentials mode (components/irsawebhook) reach through
// AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials,
// presenting their projected service-account token (audience
// pods.eks.amazonaws.com) in the Authorization header. The agent trades the
// token at EKS Auth (emulators/eksauth) with the node's own credentials and
// answers the container-credentials JSON the AWS SDKs read.
//
// What is emulated (upstream pkg/handlers, internal/validation,
// internal/credsretriever, internal/cloud/eksauth, pkg/errors,
// pkg/initalizer at aws/eks-pod-identity-agent@d4dc0f3, main, release
// 0.1.37, unless a row below says otherwise):
//
//   - /v1/credentials (any method, as upstream's mux): the Host the caller
//     used must be one of the agent's addresses, 169.254.170.23 or
//     fd00:ec2::23 (Options.TargetHosts), else 403 "Access Denied. Called
//     agent through invalid address, please use either [..] address not H";
//     the Authorization header must hold a token that golang-jwt's
//     ParseUnverified reads into RegisteredClaims (a header with a known
//     alg; typed claims) and whose exp and nbf hold, else 400 "Service
//     account token cannot be empty" / "Service account token cannot be
//     parsed: token is malformed: ..." / "Service account token failed
//     basic claim validations: token is expired" (or "token is not valid
//     yet", or both joined by ", "). golang-jwt is this module's v5.3.1 with
//     the signature segment left unread, as upstream's pinned v5.2.2 does.
//   - The trade: AssumeRoleForPodIdentity (POST
//     /clusters/NAME/assume-role-for-pod-identity at
//     https://eks-auth.REGION.api.aws, SigV4 service "eks-auth") signed with
//     the node's credentials from Options.Credentials (the command wires the
//     AWS SDK's default chain, so the node role from IMDS, as upstream).
//   - The answer: 200 application/json {"AccessKeyId", "SecretAccessKey",
//     "Token", "AccountId", "Expiration" (RFC 3339)}, AccountId taken from
//     the assumed-role ARN.
//   - EKS Auth's refusals pass through with EKS Auth's HTTP status (400 for
//     AccessDeniedException/InvalidTokenException/ExpiredTokenException, 404
//     for ResourceNotFoundException ...) and upstream's
//     HandleCredentialFetchingError text: "[REQUEST-ID]: (CODE): MESSAGE,
//     fault: client", as text/plain (http.Error). The SDKs surface that text
//     as the error message (aws-sdk-go-v2 endpointcreds: no code, since the
//     body is not JSON). Transport failures are 500 with the error text.
//   - Caching (upstream's cachedCredentialRetriever): credentials are served
//     again to the same token while more than 15 s remain and for at most
//     Options.CredentialRenewal (upstream
//     --max-credential-retention-before-renewal, 3 h); a different token goes
//     to EKS Auth. At most Options.MaxCacheSize (2000) entries are kept.
//     Refusals are not cached. Options.DisableCache (upstream: renewal or
//     size 0) sends every request to EKS Auth.
//   - Node setup (upstream "initialize", the DaemonSet's init container):
//     SetupLink adds the dummy interface pod-id-link0 holding
//     169.254.170.23/32 (and fd00:ec2::23/128 when the node has IPv6) and
//     routes them to it, so the hostNetwork agent can bind them and pods'
//     traffic to them is delivered to the node.
//
// # Differences from upstream
//
// Upstream's TestValidateEksCredentialRequest
// (internal/validation/request_test.go at d4dc0f3, 8 cases) runs against
// the agent's request validation, and 21 probes of upstream's validateToken
// (its answers read from golang-jwt v5.2.2's source) against the agent's
// (upstream_test.go); all are identical. This table lists every deliberate
// difference; no upstream case or probe covers one ("none").
// TestUpstreamDifferencesDocumented keeps the two in step.
//
//	| id | upstream cases | upstream | idlab | why |
//	| pod-uid-cache | none | main keys its cache by token and accepts a token without pod claims | keys it by the token's kubernetes.io.pod.uid, as the cache-enhancements branch (6302d98, PR #114, not in a release) does, and with the cache on refuses a token without it: 400 "failed to get pod uid from service account token: Service account token missing kubernetes.io claims" (or "... pod claims", "... pod uid") | models the cache upstream is moving to; kubelet's projected tokens always carry the pod, so only hand-made tokens see it |
//	| background-renewal | none | renews cached credentials before they expire, at --max-service-qps (3/s) | fetches again only when asked after CredentialRenewal or near expiry | the lab's clock is injected; a background loop would call EKS Auth on its own |
//	| rate-limit | none | limits /v1/credentials to 1000 requests a second | no limit | a lab has a handful of pods |
//	| probe-server | none | readiness and health on --probe-port 2703, metrics on 2705 | GET /healthz on the agent's own port; no metrics | one port to publish and probe |
//	| rotated-credentials | none | --rotate-credentials (for hybrid nodes) reads the node's credentials from a shared credentials file it re-reads as it rotates | no such flag: the node's credentials come from Options.Credentials | the lab's nodes are kind containers whose node role comes from the IMDS emulator |
package eksagent
