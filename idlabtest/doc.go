// Package idlabtest starts idlab's emulators inside a Go test, as httptest
// starts a server: a cluster's OIDC issuer that mints service-account
// tokens, IAM with fixtures and STS (AWS), or the whole composed cloud the
// lab runs (Cloud), with aws-sdk-go-v2 configs whose web identity
// credentials come from them. No Docker, no cluster.
//
// New* functions fail the test on error and stop what they started with
// t.Cleanup; Start* functions return an error and leave Close to the
// caller, for use outside a test (the examples use them).
package idlabtest
