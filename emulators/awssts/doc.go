// Package awssts emulates the AWS Security Token Service query API
// (Version 2011-06-15, form POST or GET) for unmodified SDKs and awscli:
//
//   - AssumeRoleWithWebIdentity, unsigned as on AWS: the token's issuer must
//     be an IAM OIDC provider registered in the role's account (Google's
//     https://accounts.google.com is built in), aud (azp when aud is absent)
//     one of its client IDs, keys come from the issuer's discovery document
//     and JWKS over HTTPS (Options.HTTPClient), RS256/ES256 only, exp/nbf/iat
//     checked on Options.Now; then the role's trust policy decides with the
//     <issuer host/path>:sub, :aud, :amr keys (accounts.google.com:sub, :aud =
//     azp, :oaud for Google). Session tags and source identity come from the
//     https://aws.amazon.com/tags and .../source_identity claims and need
//     sts:TagSession / sts:SetSourceIdentity in the trust policy.
//   - AssumeRole, SigV4-signed: the caller's identity policies and the role's
//     trust policy (which must itself allow), ExternalId as sts:ExternalId,
//     Tags/TransitiveTagKeys/SourceIdentity, role chaining capped at one hour
//     with transitive tags and the source identity carried along.
//   - GetCallerIdentity, SigV4-signed (header or presigned URL, as the EKS
//     aws-iam-authenticator token uses it).
//
// Errors carry AWS's codes, HTTP statuses and messages (internal/awsxml).
// Credentials it issues live in the shared awsiam store, so every AWS
// emulator accepts them.
//
// Embed it like httptest:
//
//	srv, err := awssts.NewServer(awssts.Options{IAM: iam, CA: ca, HTTPClient: issuers.Client()})
//	if err != nil { ... }
//	defer srv.Close()
//	// AWS_ENDPOINT_URL_STS=srv.URL(), AWS_CA_BUNDLE=<ca.PEM in a file>
//
// The Server's URL is STS alone. Server.AdminHandler is the test API, to
// serve on a listener of the test's own: for a Server built without
// Options.Now (which then owns a clock.Clock) GET /_idlab/clock and POST
// /_idlab/clock/advance?seconds=N, and /_idlab/iam/, IAM's admin API.
package awssts
