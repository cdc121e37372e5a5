// Package kit is idlab's public scenario kit: what a scenario test, in this
// repository or in a user's own, needs to prove an identity outcome against
// a running lab (make up, or idlab up -f idlab.yaml).
//
//   - labenv opens the lab (labenv.Open), prepares namespaces (Namespace
//     for the kit's pods, AppNamespace for a user's workloads as they are),
//     applies a user's manifest (Cluster.Apply), loads IAM as `idlab iam
//     import` does (ImportIAM) or changes it through the IAM API (IAM),
//     mints tokens, reads the emulators' decision log (LastDecisionID,
//     DecisionsSince) and records matrix rows (Row);
//   - podrun runs a pod to completion and returns its probe result, or
//     finds a Deployment's pod and waits for its log to show an outcome;
//   - probe is the Go probe (aws-sdk-go-v2, Google and Azure clients) and its
//     result format; pyprobe runs the Python clients (boto3, awscli).
//   - hostlocal steers a node's CNI host-local IPAM so the next pod there
//     gets a chosen address, such as a finished pod's IP.
//
// Scenario tests build with the e2e tag and run against the lab of the
// state directory labenv.StateDir names: IDLAB_STATE_DIR, else the nearest
// .idlab with a lab in it from the test's directory up, so a test anywhere
// in the checkout (or a repository holding a lab) finds it. See
// examples/my-app-bug for a test in a module of its own that reproduces a
// user's bug with this kit.
package kit
