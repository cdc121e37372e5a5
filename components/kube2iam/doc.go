// Package kube2iam is the lab's implementation of jtblin/kube2iam, the
// node-level EC2 metadata proxy that gives each pod the IAM role its
// iam.amazonaws.com/role annotation names (our own code, written from
// upstream's source at commit 4c4a2b4, after tag 0.15.0; upstream's module
// is not used).
//
// It runs on every node as a hostNetwork DaemonSet. With --iptables the
// node's nat PREROUTING sends pods' 169.254.169.254:80 traffic arriving on
// --host-interface (the pods' host interfaces: cni0 on the lab's bridge
// network, veth+ on ptp and kindnet; !eth0 for all but the node's own) to
// --host-ip:--app-port
// (8181). The proxy finds the calling pod by the connection's source
// address in its caches, as upstream does (k8s/k8s.go and pod.go:
// client-go informers on the node's pods, indexed by IP while the pod has
// one and has not ended, deleting or not, and on namespaces; Handler.Start
// fills them before the proxy serves). It answers:
//
//   - GET /{version}/meta-data/iam/security-credentials[/]: the pod's role,
//     its name when it lies under --base-role-arn, else the full ARN;
//   - GET /{version}/meta-data/iam/security-credentials/ROLE: when ROLE is
//     the pod's role, credentials from sts:AssumeRole with the node's own
//     instance-profile credentials (the node's IMDS), session name
//     HASH(pod IP)-ROLE, DurationSeconds twice --iam-role-session-ttl
//     (15m), ExternalId from the pod's iam.amazonaws.com/external-id
//     annotation, cached per role for the TTL (keyed by the role alone, as
//     upstream: a second pod with the role, whatever its external ID, gets
//     the first pod's session); the JSON is IMDS's (Code, LastUpdated, Type,
//     AccessKeyId, SecretAccessKey, Token, Expiration);
//   - GET /healthz: {"hostIP", "instanceId"}, the instance ID read with the
//     SDK's IMDS client (IMDSv2, then v1), as upstream since
//     jtblin/kube2iam#344;
//   - anything else, the IMDSv2 token PUT included: proxied to the node's
//     metadata service. As upstream (httputil's single-host proxy), an
//     IMDSv2 request (the token PUT, a GET with a token) carries only the
//     X-Forwarded-For the caller sent, which IMDS refuses on a token
//     request (jtblin/kube2iam#241, fixed by #270 and #279); any other
//     gets the caller's address appended. The proxy is one hop from IMDS
//     whatever the pod's distance, so it states one hop (drops
//     X-Idlab-Hops) and HttpPutResponseHopLimit=1 does not hurt pods
//     behind it.
//
// The pod's role, as upstream's mapper holds it: its annotation, else the
// default role, where an empty --default-role is still the base ARN
// itself. So with --base-role-arn set, a pod without the annotation lists
// an empty role (200, empty body: no SDK finds a role; upstream's e2e
// TestUnannotatedPodNoCredentials) and is exempt from the namespace
// restriction; only without --base-role-arn is it refused. Refusals, with
// upstream's statuses and texts (http.Error: text/plain, a trailing
// newline), after retrying the pod lookup with exponential backoff for
// --backoff-max-elapsed-time (2s):
//
//	404 pod with specificed IP "10.244.0.7" not found
//	404 N pods ([a b]) with the ip 10.244.0.7 indexed       (hostNetwork pods)
//	404 unable to find role for IP 10.244.0.7           (no annotation, no default role, no base ARN)
//	404 role requested ARN not valid for namespace of pod at IP with namespace NS
//	403 Invalid role ROLE                              (ROLE is not the pod's role)
//	500 the STS error                                  (AssumeRole refused)
//
// Namespace restriction (--namespace-restrictions): the pod's namespace's
// iam.amazonaws.com/allowed-roles annotation is a JSON array of role names
// or ARNs (names get --base-role-arn in front), read as encoding/json reads
// it into a list of strings: a mixed list keeps its strings (and "" for the
// rest, the base ARN itself), anything but a JSON array allows nothing. The
// pod's role must match one of them as a glob (only * is special, matching
// any run of characters, slashes included) or, with
// --namespace-restriction-format=regexp (in any case; any other value is
// glob, as upstream), as an unanchored regular expression: there an entry
// that decoded to "" (a number, null, "") allows every role under the base
// ARN, as upstream. The default role is always allowed.
//
// Every decision is logged (slog, JSON in the lab) as "kube2iam decision"
// with decision=Allow|Deny, pod, namespace, role and reason: the proxy's
// decision log, which the scenarios read from the pod's log.
//
// Upstream's unit tables (arn, mapper, namespace, session name and server
// tests) and its e2e test of an unannotated pod run in upstream_test.go,
// 89 cases, all identical. What upstream has that differs here on purpose:
//
//	behaviour              upstream                           here, and why
//	---------------------  ---------------------------------  -----------------------------------------
//	pod not in the cache   retried in the cache only          asked of the API server once per lookup:
//	                                                          a pod's first call may beat the watch
//	/healthz               the last result of a check every   read per request: the lab's checks need
//	                       30 s                               no rate limit
//	metadata Host header   the caller's (169.254.169.254)     the node's IMDS address (the lab's IMDS
//	                                                          listens elsewhere)
//	STS endpoint           sts.REGION whenever the SDK's      sts.amazonaws.com, or sts.REGION with
//	                       region (AWS_REGION) is one EC2     --use-regional-sts-endpoint and
//	                       DescribeRegions lists (the flag    AWS_REGION: the lab has no EC2 API
//	                       --use-regional-sts-endpoint is
//	                       parsed, unused)
//	not emulated           --auto-discover-base-arn,          the lab passes --base-role-arn; no
//	                       --auto-discover-default-role,      scenario needs the others
//	                       --resolve-duplicate-ips,
//	                       --iam-role-error-ttl, --debug,
//	                       metrics
package kube2iam
