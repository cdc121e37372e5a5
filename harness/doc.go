// Package harness is the lab: it brings up kind clusters whose
// service-account issuer is a lab-hosted OIDC issuer, runs the cloud
// emulators (`idlab serve`) in a container on kind's Docker network, points
// each cluster's DNS for cloud host names at it, and records what it built in
// a state file that scenarios open. cmd/idlab drives it; scenarios use Open.
package harness
