// Package gtoken is the lab's own implementation of doitintl/gtoken's
// mutating admission webhook, gtoken-webhook (cmd/gtoken-webhook/main.go at
// tag 0.4.3, commit 710e8ca, the newest release), for the lab's GKE cluster.
//
// A pod whose Kubernetes ServiceAccount carries the annotation
// amazonaws.com/role-arn, whatever its value (empty included), gets, as
// upstream gives it:
//
//   - in every container and init container, a mount of the volume
//     "gtoken-volume" at /var/run/secrets/aws/token and the variables
//     AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN and AWS_ROLE_SESSION_NAME,
//     appended unconditionally: a container that sets one of them already
//     has it twice, and the ServiceAccount's, the later one, wins;
//   - a first init container "generate-gcp-id-token" running the gtoken image
//     with --file=/var/run/secrets/aws/token/gtoken --refresh=false, which
//     writes a Google ID token (from the GKE metadata server) once;
//   - a last container "update-gcp-id-token" with --refresh=true that keeps
//     the token fresh;
//   - the in-memory emptyDir volume "gtoken-volume", appended.
//
// Nothing is checked first, as upstream checks nothing: a pod mutated
// already is mutated again (and the API server refuses its duplicate
// container names), a container mounting something at the token path gets
// a second mount there (refused too). A pod without any container is left
// alone. The names, paths, image and pull policy are Options, upstream's
// server flags.
//
// The AWS SDK then calls sts:AssumeRoleWithWebIdentity with the Google ID
// token.
//
// Upstream's test tables (cmd/gtoken-webhook/main_test.go at 0.4.3: 3 cases
// of mutateContainers, 1 of mutatePod) run against this package in
// upstream_test.go and are identical, with session names fixed as in
// upstream's testMode; so are the behaviours of its main.go that idlab
// issue 15 names (a container's own AWS_ROLE_ARN, a second invocation, an
// empty annotation). What differs on purpose:
//
//	behaviour            upstream                            here, and why
//	-------------------  ----------------------------------  -------------------------------------------
//	missing ServiceAccount, or any lookup error:
//	                     logrus Fatalf: the process exits;   the pod is allowed unmutated and the
//	                     the API server (failurePolicy       webhook stays up: one scenario's pod must
//	                     Ignore) admits the pod unmutated,   not turn into an outage for every other
//	                     and every pod created until the     (the API server's ServiceAccount admission
//	                     webhook is back                     plugin normally refuses such pods first)
//	dry run              mount and variables added, not the  the whole mutation: the lab checks that the
//	                     containers or the volume, so the    webhook is up with a dry-run create, which
//	                     dry-run pod names a volume it       upstream's answer would fail
//	                     lacks and is refused
//	session names        16 random letters a-y per           16 letters a-y per container derived from
//	                     container (math/rand)               the pod's namespace, name, list and index:
//	                                                         patches are reproducible
//	serviceAccountName   "" is looked up as "" (an error,    "" reads "default": the ServiceAccount
//	empty                so the process exits)               admission plugin sets it before webhooks
//	                                                         run, so no pod in a cluster differs
//	webhook serving      POST /pods; AdmissionReview v1      POST /pods and /mutate (earlier labs'
//	                     and v1beta1; namespaces labelled    configurations); v1 only; the same
//	                     admission.gtoken/ignore skipped     namespaceSelector, and pods labelled
//	                                                         gtoken.idlab.dev/skip skipped too
//
// The webhook never blocks a pod: failures leave it unmutated (and the
// MutatingWebhookConfiguration from Config uses failurePolicy Ignore).
package gtoken
