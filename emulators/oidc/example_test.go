package oidc_test

import (
	"context"
	"fmt"
	"log"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/jwtverify"
)

// An EKS-style issuer served over HTTPS: mint an IRSA token as kube-apiserver
// would, then verify it the way AWS STS does, through OIDC discovery at the
// real-looking issuer host (Server.Client dials the emulator for any host).
func ExampleNewServer() {
	srv, err := oidc.NewServer(oidc.Options{}) // a CA of its own
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	iss, err := srv.Handler().AddIssuer("https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := iss.AddKey("RS256"); err != nil {
		log.Fatal(err)
	}
	tok, err := iss.MintServiceAccountToken(oidc.TokenRequest{
		Namespace: "default", ServiceAccount: "s3-reader",
		Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: 86400,
		Pod: &oidc.ObjectRef{Name: "reader-0", UID: "6f1c1f2e-0000-4000-8000-000000000001"},
	})
	if err != nil {
		log.Fatal(err)
	}

	v := jwtverify.Verifier{Keys: &jwtverify.DiscoveryKeys{Client: srv.Client()}}
	got, err := v.Verify(context.Background(), tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Claims.Issuer)
	fmt.Println(got.Claims.Subject, got.Claims.Audience)
	fmt.Println(got.Claims.Expiry.Sub(*got.Claims.IssuedAt))
	// Output:
	// https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
	// system:serviceaccount:default:s3-reader [sts.amazonaws.com]
	// 24h0m0s
}
