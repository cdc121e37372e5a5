// Package irsawebhook is the lab's own implementation of the EKS Pod Identity
// Webhook (github.com/aws/amazon-eks-pod-identity-webhook), the mutating
// admission webhook behind IAM Roles for Service Accounts (IRSA). The upstream
// Go module cannot be downloaded here, so this package reproduces its
// behaviour, patch for patch, for the kind clusters of the lab's "eks" family:
// pods whose ServiceAccount names an IAM role get a projected
// service-account token and the AWS SDK environment that makes the SDK call
// sts:AssumeRoleWithWebIdentity against the lab's STS emulator.
//
// What is emulated (upstream pkg/handler, pkg/cache, pkg/containercredentials,
// pkg/annotations.go, at aws/amazon-eks-pod-identity-webhook@3bf80a3):
//
//   - ServiceAccount annotations: eks.amazonaws.com/role-arn (no role, no
//     mutation), eks.amazonaws.com/audience (default Options.DefaultAudience,
//     "sts.amazonaws.com"), eks.amazonaws.com/sts-regional-endpoints
//     (strconv.ParseBool; true adds AWS_STS_REGIONAL_ENDPOINTS=regional) and
//     eks.amazonaws.com/token-expiration (seconds; below 600 raised to 600,
//     no ceiling; unparsable values ignored).
//   - Pod annotations: eks.amazonaws.com/skip-containers (one CSV record of
//     container and init container names left alone) and
//     eks.amazonaws.com/token-expiration (overrides the ServiceAccount's).
//   - The patch: a projected volume "aws-iam-token" holding a
//     serviceAccountToken {audience, expirationSeconds, path "token"}, added
//     as /spec/volumes (pod without volumes) or /spec/volumes/0 unless the
//     pod already has a volume of that name, whatever it holds; then the
//     whole /spec/containers list and, when there are any,
//     /spec/initContainers, each container (not skipped) given, in
//     upstream's order, AWS_STS_REGIONAL_ENDPOINTS, AWS_DEFAULT_REGION +
//     AWS_REGION (when a region is configured), AWS_ROLE_ARN +
//     AWS_WEB_IDENTITY_TOKEN_FILE, and a read-only mount at
//     /var/run/secrets/eks.amazonaws.com/serviceaccount unless it already
//     mounts a volume of the token's name (wherever). Upstream's rule for
//     variables the container already sets is by group: either AWS_ROLE_ARN
//     or AWS_WEB_IDENTITY_TOKEN_FILE present skips both, either region
//     variable present skips both, AWS_STS_REGIONAL_ENDPOINTS alone; a
//     container that has all three groups is left untouched. Pods with a
//     windows nodeSelector get a C:\ token path. hostNetwork pods are
//     mutated like any other, as upstream does.
//   - ServiceAccount lookup: a cache fed by a list+watch of ServiceAccounts
//     (upstream uses a SharedInformer; see saCache.start); a pod whose
//     ServiceAccount is not in the cache yet (created just before it) is
//     resolved with a GET against the API server within
//     Options.LookupTimeout, as upstream does when started with
//     --service-account-lookup-grace-period (aws/amazon-eks-pod-identity-webhook#236
//     and #252, for issue #174; see the sa-lookup row below).
//   - EKS Pod Identity (upstream pkg/containercredentials, the managed
//     webhook's container-credentials mode): with
//     Options.ContainerCredentials.ConfigFile (upstream's
//     --watch-container-credentials-config), a JSON file
//     {"identities":[{"namespace":..,"serviceAccount":..}]} listing the
//     service accounts that have a pod identity association, re-read at
//     once when its directory reports a change to it, as upstream's
//     fsnotify watch does, with no poll (zero bytes or no file: none; JSON
//     that does not parse keeps the last list and is retried on upstream's
//     10 ms..5 min back-off). Each load logs ConfigLoadMessage with the
//     content's SHA-256. A pod admitted before the file lists its service
//     account is not given container credentials, as upstream's is not
//     (aws/amazon-eks-pod-identity-webhook#264, open; scenarios/podidentity
//     race_test.go). Such a pod's containers get
//     AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials
//     (the EKS Pod Identity Agent) and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
//     pointing at a projected token "eks-pod-identity-token" with audience
//     pods.eks.amazonaws.com mounted at
//     /var/run/secrets/pods.eks.amazonaws.com/serviceaccount, and the pod the
//     label eks.amazonaws.com/pod-identity=enabled. Container credentials
//     take precedence over IRSA: an associated service account's role-arn
//     and audience annotations are ignored, while its sts-regional-endpoints
//     and token-expiration annotations still apply (read from the cache
//     without waiting; absent: no regional STS, 86400 s). An 86400 s
//     lifetime is jittered into 79200..86400 s (container credentials only,
//     as upstream). Region, skip-containers, the Windows path, the existing
//     volume and the "any variable of the group set" rules are as for IRSA,
//     with the two container credentials variables as the group.
//   - Admission: /mutate (any method) reads an AdmissionReview with
//     client-go's universal deserializer, as upstream: any apiVersion and
//     kind (echoed in the answer), JSON, YAML or protobuf. A pod the webhook
//     has credentials for gets a JSONPatch; others are allowed unchanged.
//     A Content-Type other than exactly application/json is 415 "Invalid
//     Content-Type, expected `application/json`"; a body that does not
//     decode, a review without a request ("bad content") or an object that
//     is not a pod's JSON is answered allowed:false with the error's text as
//     the status message and nothing else, as upstream does. The response
//     uid is the request's.
//
// # Differences from upstream
//
// Upstream's own test tables at 3bf80a3 are idlab's tests too
// (upstream*_test.go, testdata/upstream): the 24 pkg/handler/testdata cases,
// pkg/handler/handler_test.go (11 cases), pkg/cache/cache_test.go (21),
// pkg/containercredentials/config_test.go (7) and
// pkg/filesystem/file_watcher_test.go (7), 70 in all. Every one is
// identical except the cases named in this table, which lists every
// deliberate difference, including those no upstream case covers ("none").
// TestUpstreamDifferencesDocumented keeps the two in step.
//
//	| id | upstream cases | upstream | idlab | why |
//	| configmap-roles | TestPopulateCacheFromCM; TestPopulateCacheFromCMWithWildcard; TestCachePrecedence; TestGetCommonConfigurations/Config map is set, but not service account | --watch-config-map reads roles for namespace/name (or */name) from the pod-identity-webhook ConfigMap | reads no ConfigMap: roles come from annotations only | the lab configures IRSA as EKS users do, by annotation; a second source of roles would be a second thing to keep right |
//	| composed-role-arn | TestRoleArnComposition | --compose-role-arn turns a bare role name into arn:PARTITION:iam::ACCOUNT:role/NAME, taken from instance metadata | keeps the annotation as written | needs the node's IMDS at webhook start; lab roles are always annotated by full ARN |
//	| sa-lookup | none | by default (grace period 0) a ServiceAccount missing from the cache means no mutation; with --service-account-lookup-grace-period it waits and GETs it from the API | always waits up to Options.LookupTimeout (3 s) for the watch or a GET | the lab's pods are often created right after their ServiceAccount (issue #174) and must be mutated |
//	| default-service-account | none | looks the pod's spec.serviceAccountName up as it is, relying on the ServiceAccount admission plugin to have set it | an empty name means "default" | Mutate is also called directly, without an API server in front |
//	| request-namespace | none | the pod's namespace is the request's, even empty | the pod's own namespace when the request has none | the same |
//	| not-a-pod | none | decodes any object as a pod | answers a request whose Kind is set and is not the core group's Pod allowed, without reading it | with default-service-account, a stray object must not be mutated |
//	| mount-path-taken | none | adds the token mount unless a mount of the same name exists, even when another volume is mounted at the token's path (the API server then rejects the pod) | also leaves the container's mounts alone when something is mounted at the token's path | a pod that is created beats one that is rejected; the lab's rows test credentials, not that failure |
//	| review-size | none | reads a body of any size | answers a body over 8 MiB (admission.MaxReviewBytes) with 413 | bounded reads of untrusted input; the API server sends at most ~3 MiB |
//	| response-content-type | none | writes the answer without a Content-Type (Go labels it text/plain) | labels it application/json | what the body is |
//	| config-reload | none | watches the file's directory with fsnotify and loads the file at once on an event naming it (pkg/filesystem/file_watcher.go); a failed load is retried after 10 ms, doubling to 5 min; a ConfigMap volume's swap of ..data names no file and is not seen | the same watch and schedule (TestRetryDelayIsUpstreamsRateLimiter), and a reload on the ..data swap too; the first load is done before the Handler serves; each load logs the content's SHA-256 | the lab mounts the file from a ConfigMap (TestConfigMapSwapNamesNoFile); scenarios order pods against the load line |
//	| deploy-config | none | deploy/mutatingwebhook.yaml: webhook pod-identity-webhook.amazonaws.com, admissionReviewVersions [v1beta1], no reinvocationPolicy or timeout | Config: iam-for-pods.amazonaws.com, [v1], reinvocationPolicy IfNeeded, 10 s, matchPolicy Equivalent | the lab installs the webhook as Config says EKS's managed one is (not verifiable from upstream's source) |
//	| not-modelled | none | --annotation-prefix, --token-mount-path, metrics, debugging handlers, in-cluster certificate requests | none of these | the lab runs one webhook with EKS's defaults and its own certificates |
//
// Deployment: Config builds the MutatingWebhookConfiguration (the
// objectSelector and policies of the EKS-managed webhook), Manifests the
// Deployment, Service and RBAC, and Server serves the handler over TLS with a
// certificate from internal/certs.
package irsawebhook
