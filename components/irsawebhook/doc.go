// Package irsawebhook is the lab's own implementation of the EKS Pod Identity
// Webhook (github.com/aws/amazon-eks-pod-identity-webhook), the mutating
// admission webhook behind IAM Roles for Service Accounts (IRSA). The upstream
// Go module cannot be downloaded here, so this package reproduces its
// behaviour, patch for patch, for the kind clusters of the lab's "eks" family:
// pods whose ServiceAccount names an IAM role get a projected
// service-account token and the AWS SDK environment that makes the SDK call
// sts:AssumeRoleWithWebIdentity against the lab's STS emulator.
//
// What is emulated (upstream pkg/handler, pkg/cache, pkg/annotations):
//
//   - ServiceAccount annotations: eks.amazonaws.com/role-arn (no role, no
//     mutation), eks.amazonaws.com/audience (default Options.DefaultAudience,
//     "sts.amazonaws.com"), eks.amazonaws.com/sts-regional-endpoints
//     (strconv.ParseBool; true adds AWS_STS_REGIONAL_ENDPOINTS=regional) and
//     eks.amazonaws.com/token-expiration (seconds, clamped to 600..86400,
//     unparsable values ignored).
//   - Pod annotations: eks.amazonaws.com/skip-containers (one CSV record of
//     container and init container names left alone) and
//     eks.amazonaws.com/token-expiration (overrides the ServiceAccount's).
//   - The patch: a projected volume "aws-iam-token" holding a
//     serviceAccountToken {audience, expirationSeconds, path "token"}, added
//     as /spec/volumes (pod without volumes) or /spec/volumes/0; then the whole
//     /spec/containers list and, when there are any, /spec/initContainers,
//     each container (not skipped) given, in upstream's order,
//     AWS_STS_REGIONAL_ENDPOINTS, AWS_DEFAULT_REGION + AWS_REGION (when a
//     region is configured), AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, and a
//     read-only mount at /var/run/secrets/eks.amazonaws.com/serviceaccount.
//     Upstream's rule for variables the container already sets is by group:
//     either AWS_ROLE_ARN or AWS_WEB_IDENTITY_TOKEN_FILE present skips both,
//     either region variable present skips both, AWS_STS_REGIONAL_ENDPOINTS
//     alone; a container that has all three groups is left untouched. Pods
//     with a windows nodeSelector get a C:\ token path. A pod that already
//     holds a volume named aws-iam-token keeps it when it is the webhook's own
//     token (same audience and path: a reinvocation) and is not mutated at
//     all when it is something else. hostNetwork pods are mutated like any
//     other, as upstream does.
//   - ServiceAccount lookup: a cache fed by a list+watch of ServiceAccounts
//     (upstream uses a SharedInformer; client-go's tools/cache needs a module
//     this go.mod lacks, see saCache.start); a pod whose
//     ServiceAccount is not in the cache yet (created just before it) is
//     resolved with a GET against the API server within Options.LookupTimeout,
//     as upstream does since aws/amazon-eks-pod-identity-webhook#252 (which
//     built on the grace period of #236 for issue #174).
//   - EKS Pod Identity (upstream pkg/containercredentials, the managed
//     webhook's container-credentials mode): with
//     Options.ContainerCredentials.ConfigFile (upstream's
//     --watch-container-credentials-config), a JSON file
//     {"identities":[{"namespace":..,"serviceAccount":..}]} listing the
//     service accounts that have a pod identity association, re-read as it
//     changes. Such a pod's containers get
//     AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials
//     (the EKS Pod Identity Agent) and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
//     pointing at a projected token "eks-pod-identity-token" with audience
//     pods.eks.amazonaws.com mounted at
//     /var/run/secrets/pods.eks.amazonaws.com/serviceaccount, and the pod the
//     label eks.amazonaws.com/pod-identity=enabled. Container credentials
//     take precedence over IRSA: an associated service account's role-arn
//     and audience annotations are ignored, while its sts-regional-endpoints
//     and token-expiration annotations still apply (read from the cache
//     without waiting; absent: no regional STS, 86400 s). A default 86400 s
//     lifetime is jittered into 79200..86400 s. Region, skip-containers, the
//     Windows path and the "any variable of the group set" rules are as for
//     IRSA, with the two container credentials variables as the group.
//   - Admission: POST /mutate takes and returns admission.k8s.io/v1
//     AdmissionReview, response uid echoed, JSONPatch.
//
// Where this package differs on purpose:
//
//   - Every response is Allowed (the webhook never blocks a pod); requests
//     that cannot be decoded still get a well-formed AdmissionReview whose
//     status says why (upstream answers those with allowed=false).
//   - A mount is not added to a container that already mounts something at
//     the token's path under another name (upstream checks the name only and
//     so yields a pod the API server rejects for a duplicate mountPath).
//   - An empty spec.serviceAccountName means "default" (upstream relies on
//     the ServiceAccount admission plugin having set it).
//   - No default-expiration jitter for IRSA (upstream jitters container
//     credentials only in the version modelled), no ConfigMap-configured
//     roles, no composed role ARNs.
//   - The container credentials file is polled (Options.ContainerCredentials
//     .PollInterval) rather than watched with fsnotify, which also catches a
//     ConfigMap volume's symlink swap.
//
// Deployment: Config builds the MutatingWebhookConfiguration (the
// objectSelector and policies of the EKS-managed webhook), Manifests the
// Deployment, Service and RBAC, and Server serves the handler over TLS with a
// certificate from internal/certs.
package irsawebhook
