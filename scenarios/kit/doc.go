// Package kit is idlab's public scenario kit: what a scenario test, in this
// repository or in a user's own, needs to prove an identity outcome against
// a running lab (make up, or idlab up -f idlab.yaml).
//
//   - labenv opens the lab (labenv.Open), prepares namespaces with the lab CA
//     and the service accounts, mints tokens, reads the emulators' decision
//     log (LastDecisionID, DecisionsSince) and records matrix rows (Row);
//   - podrun runs a pod to completion and returns its probe result;
//   - probe is the Go probe (aws-sdk-go-v2, Google and Azure clients) and its
//     result format; pyprobe runs the Python clients (boto3, awscli).
//
// Scenario tests build with the e2e tag and run against the lab the state
// directory names (IDLAB_STATE_DIR; by default ../../.idlab, the checkout's
// own seen from scenarios/<suite>); see
// examples/ for a test kept outside the scenario suites.
package kit
