// Package idlabtest starts idlab's emulators inside a Go test, as httptest
// starts a server, with ready clients of the unmodified cloud SDKs whose
// credentials come from a cluster's service-account tokens: AWS (an
// EKS-style issuer, IAM and STS; aws-sdk-go-v2 web identity configs),
// Google (a GKE issuer, Google IAM and Cloud Storage; Workload Identity
// token sources and cloud.google.com/go/storage clients), Azure (an AKS
// issuer, Entra and Blob Storage; azidentity workload identity credentials
// and azblob clients), or the whole composed cloud the lab runs (Cloud).
// No Docker, no cluster.
//
// New* functions fail the test on error and stop what they started with
// t.Cleanup; Start* functions return an error and leave Close to the
// caller, for use outside a test (the examples use them). Every type and
// function here is usable from another module: none needs an idlab
// internal package.
package idlabtest
