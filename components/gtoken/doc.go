// Package gtoken is a gtoken-style mutating admission webhook (the
// behaviour of doitintl/gtoken-webhook) for the lab's GKE cluster.
//
// A pod whose Kubernetes ServiceAccount carries the annotation
// amazonaws.com/role-arn gets:
//
//   - an in-memory emptyDir volume "gtoken-volume" mounted in every existing
//     container and init container at /var/run/secrets/aws/token;
//   - a first init container "generate-gcp-id-token" running the gtoken image
//     with --file=/var/run/secrets/aws/token/gtoken --refresh=false, which
//     writes a Google ID token (from the GKE metadata server) once;
//   - a sidecar "update-gcp-id-token" with --refresh=true that keeps the
//     token fresh;
//   - in every existing container, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN
//     and AWS_ROLE_SESSION_NAME=gtoken-webhook-<16 letters>, each only when
//     the container does not set it already.
//
// The AWS SDK then calls sts:AssumeRoleWithWebIdentity with the Google ID
// token. Upstream draws the session-name suffix at random; here it is derived
// from the pod's namespace and name so MutatePod stays pure and patches are
// reproducible.
//
// The webhook never blocks a pod: failures leave it unmutated (and the
// MutatingWebhookConfiguration from Config uses failurePolicy Ignore).
package gtoken
