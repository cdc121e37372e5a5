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
// pkg/initalizer):
//
//   - /v1/credentials (any method, as upstream's mux): the Host the caller
//     used must be one of the agent's addresses, 169.254.170.23 or
//     fd00:ec2::23 (Options.TargetHosts), else 403 "Access Denied. Called
//     agent through invalid address, please use either [..] address not H";
//     the Authorization header must hold a token that parses as a JWT and
//     passes the basic exp/nbf checks, else 400 "Service account token cannot
//     be empty" / "... cannot be parsed: token is malformed: ..." / "...
//     failed basic claim validations: token has invalid claims: token is
//     expired"; a token without kubernetes.io pod claims is 400 as well.
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
//   - Caching (upstream's cachedCredentialRetriever): credentials are kept
//     per pod UID (the token's kubernetes.io.pod.uid) and served again to the
//     same token while more than 15 s remain and for at most
//     Options.CredentialRenewal (upstream --max-credential-retention-before-renewal,
//     3 h); a different token for the same pod goes to EKS Auth. At most
//     Options.MaxCacheSize (2000) pods are kept. Refusals are not cached.
//   - Node setup (upstream "initialize", the DaemonSet's init container):
//     SetupLink adds the dummy interface pod-id-link0 holding
//     169.254.170.23/32 (and fd00:ec2::23/128 when the node has IPv6) and
//     routes them to it, so the hostNetwork agent can bind them and pods'
//     traffic to them is delivered to the node.
//
// Not modelled: upstream's background renewal of cached credentials and
// its local token validation against the API server's keys (a new token of
// a cached pod always goes to EKS Auth), the request rate limiter (1000/s),
// metrics and the probe server (the DaemonSet's readiness probe asks
// /healthz on the agent's own port), and the IMDS fallback of hybrid nodes.
package eksagent
