// Package myappbug reproduces a platform team's identity bug in the lab,
// as a user's own repository would: their Deployment (deployment.yaml),
// their IAM role exported with awscli (iam/), and a test that uses only
// idlab's public packages (the scenario kit, scenarios/kit).
//
// The bug is the classic IRSA one: the role's trust policy names the
// service account system:serviceaccount:payment:my-app, the Deployment
// runs as payments/my-app, and STS refuses the pod's web identity with
// AccessDenied. The tests show the refusal, the lab's decision naming the
// :sub condition that does not hold (the words of idlab explain), and
// that the corrected trust policy (fix/trust-policy.json) lets the same
// pod in: once in process (make test, no Docker) and once against the
// running lab with the real Deployment (make e2e; build tag e2e).
//
// It is a module of its own (example.com/my-app-bug, with a replace of
// github.com/idlab/idlab to this checkout) so that it meets Go's internal
// package rule as a user's module does.
package myappbug
