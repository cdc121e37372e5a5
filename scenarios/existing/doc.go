// Package existing is the existing-cluster suite: the lab brought up on a
// cluster idlab did not create (a plain `kind create cluster`, made by the
// suite itself through the kind library), trusting that cluster's own
// service-account issuer from its discovery document and JWKS, with the
// emulator running inside it. Its rows: the cluster's own projected token
// is accepted by the emulated STS; another service account's is refused by
// the trust policy; a token naming the cluster's key but signed by another
// is refused as invalid.
package existing
