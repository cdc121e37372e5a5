// Package oidc emulates OIDC token issuers: Kubernetes service-account
// issuers as EKS and GKE host them (discovery document + JWKS, several keys
// at once for rotation) and a signer that mints projected service-account
// tokens exactly as kube-apiserver does. Any number of issuers share one
// HTTPS server, chosen by host name and path.
//
// Embed it in a test like httptest:
//
//	srv, _ := oidc.NewServer(oidc.Options{CA: ca})
//	iss, _ := srv.Handler().AddIssuer("https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE")
//	_, _ = iss.AddKey("RS256")
//	tok, _ := iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "a", ServiceAccount: "app", Audiences: []string{"sts.amazonaws.com"}})
//
// srv.Client() reaches the server for any host name, so verifiers fetch
// https://oidc.eks.../.well-known/openid-configuration as they would in a cluster.
package oidc
