// Package oidc emulates OIDC token issuers for the lab: Kubernetes
// service-account issuers as EKS (https://oidc.eks.REGION.amazonaws.com/id/ID,
// JWKS at /keys) and GKE (https://container.googleapis.com/v1/projects/P/
// locations/L/clusters/C) host them, or as kube-apiserver serves them itself
// (/openid/v1/jwks). It is what AWS STS, Google STS and Entra emulators (and
// real SDK-side verifiers) fetch keys from, and what tests mint tokens with.
//
// What is emulated, byte for byte where a client could notice:
//
//   - Discovery: GET {issuer path}/.well-known/openid-configuration returns
//     kube-apiserver's document (pkg/serviceaccount/openidmetadata.go): issuer,
//     jwks_uri, response_types_supported ["id_token"], subject_types_supported
//     ["public"], id_token_signing_alg_values_supported (sorted algs of the
//     published keys), Content-Type application/json, Cache-Control
//     "public, max-age=3600".
//   - JWKS: every published key (several at once for rotation) with use
//     "sig", kty, kid, alg, Content-Type application/jwk-set+json and the same
//     Cache-Control. kid is kube-apiserver's: unpadded base64url of SHA-256
//     over the PKIX DER public key (KeyID).
//   - Minting (Issuer.MintServiceAccountToken): the claims kube-apiserver's
//     TokenRequest API puts in a projected service-account token
//     (pkg/serviceaccount/claims.go and the token REST storage): aud always an
//     array, exp, iat, iss, jti (UUID), kubernetes.io {namespace,
//     serviceaccount, pod or secret, node, warnafter}, nbf = iat, sub
//     system:serviceaccount:NS:SA; header alg + kid. Its validation (600 s
//     minimum, 2^32 maximum, one binding object type), default audiences (the
//     API audiences, default the issuer URL), --service-account-max-token-
//     expiration and the 3607 s "warn only" extension to one year.
//
// Issuers are chosen by the request's Host and the longest matching path
// prefix; on an IP address or localhost (tests on the host) by path alone,
// the first-added issuer winning a tie. Unknown paths get 404.
//
// A small admin API under /_idlab/oidc/ (Handler.AdminHandler) lists and
// adds issuers, adds and removes keys, and mints tokens for scenarios. It is
// not part of ServeHTTP: the server's URL answers only what an issuer
// publishes.
//
// Embed it in a test like httptest:
//
//	srv, _ := oidc.NewServer(oidc.Options{CA: ca})
//	iss, _ := srv.Handler().AddIssuer("https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE")
//	_, _ = iss.AddKey("RS256")
//	tok, _ := iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "a", ServiceAccount: "app", Audiences: []string{"sts.amazonaws.com"}})
//
// srv.Client() trusts the CA and dials the server for any host name, so
// verifiers fetch https://oidc.eks.../.well-known/openid-configuration as
// they would from a cluster.
package oidc
