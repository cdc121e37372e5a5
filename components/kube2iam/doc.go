// Package kube2iam is the lab's implementation of jtblin/kube2iam, the
// node-level EC2 metadata proxy that gives each pod the IAM role its
// iam.amazonaws.com/role annotation names (our own code, written from the
// upstream README and behaviour; upstream's module is not used).
//
// It runs on every node as a hostNetwork DaemonSet. With --iptables the
// node's nat PREROUTING sends pods' 169.254.169.254:80 traffic arriving on
// --host-interface (the pods' host interfaces: cni0 on the lab's bridge
// network, veth+ on ptp and kindnet; !eth0 for all but the node's own) to
// --host-ip:--app-port
// (8181). The proxy finds the calling pod by the connection's source
// address in its caches, as upstream does (jtblin/kube2iam k8s/k8s.go and
// pod.go at 4c4a2b4: client-go informers on the node's pods, indexed by IP
// while the pod has one and has not ended, deleting or not, and on
// namespaces; Handler.Start fills them before the proxy serves). A pod or
// namespace the watch has not delivered yet is asked of the API server, the
// one live call left (upstream has none and only retries). It answers:
//
//   - GET /{version}/meta-data/iam/security-credentials[/]: the pod's role,
//     its name when it lies under --base-role-arn, else the full ARN;
//   - GET /{version}/meta-data/iam/security-credentials/ROLE: when ROLE is
//     the pod's role, credentials from sts:AssumeRole with the node's own
//     instance-profile credentials (the node's IMDS), session name
//     HASH(pod IP)-ROLE, DurationSeconds twice --iam-role-session-ttl
//     (15m), cached per role for the TTL; the JSON is IMDS's (Code,
//     LastUpdated, Type, AccessKeyId, SecretAccessKey, Token, Expiration);
//   - GET /healthz: the node's instance ID from IMDS (an IMDSv1 GET, as
//     upstream: on HttpTokens=required nodes it fails with a 401, jtblin/kube2iam#345);
//   - anything else, the IMDSv2 token PUT included: proxied to the node's
//     metadata service over a new connection from the node, without
//     X-Forwarded-For (which IMDS refuses, jtblin/kube2iam#241, fixed by #270 and
//     #279). The proxy is one hop from IMDS whatever the pod's distance, so
//     it states one hop (drops X-Idlab-Hops) and HttpPutResponseHopLimit=1
//     does not hurt pods behind it.
//
// Refusals, with upstream's statuses and texts (http.Error: text/plain, a
// trailing newline), after retrying the pod lookup with exponential backoff
// for --backoff-max-elapsed-time (2s):
//
//	404 Pod with specificed IP not found
//	404 unable to find role for IP 10.244.0.7          (no annotation, no --default-role)
//	404 role requested ARN not valid for namespace of pod at IP with namespace NS
//	403 Invalid role ROLE                              (ROLE is not the pod's role)
//	500 the STS error                                  (AssumeRole refused)
//
// Namespace restriction (--namespace-restrictions): the pod's namespace's
// iam.amazonaws.com/allowed-roles annotation is a JSON array of role names
// or ARNs (names get --base-role-arn in front); the pod's role must match one
// of them as a glob (only * is special, matching any run of characters,
// slashes included) or, with --namespace-restriction-format=regexp, as an
// unanchored regular expression. --default-role is always allowed. An
// annotation that is not a JSON array of strings allows nothing.
//
// Every decision is logged (slog, JSON in the lab) as "kube2iam decision"
// with decision=Allow|Deny, pod, namespace, role and reason: the proxy's
// decision log, which the scenarios read from the pod's log.
package kube2iam
