// Package awssts emulates the AWS Security Token Service query API:
// AssumeRoleWithWebIdentity (verifying OIDC tokens as AWS does: a registered
// IAM OIDC provider, keys from the issuer's discovery document over HTTPS,
// RS256/ES256 only, audience against client IDs, expiry, then the role's trust
// policy with the <issuer>:sub/aud condition keys), AssumeRole (SigV4-signed,
// cross-account, external ID, role chaining capped at one hour) and
// GetCallerIdentity, with AWS's parameters, XML responses and error codes.
// Credentials it issues live in the shared awsiam store, so every AWS
// emulator accepts them.
//
// Embed it like httptest:
//
//	srv, _ := awssts.NewServer(awssts.Options{IAM: iam, CA: ca, HTTPClient: issuers.Client()})
//	defer srv.Close()
//	// AWS_ENDPOINT_URL=srv.URL(), AWS_CA_BUNDLE=<ca.PEM in a file>
package awssts
