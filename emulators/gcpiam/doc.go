// Package gcpiam emulates Google's identity plane for the lab: the
// accounts.google.com ID-token issuer, service accounts, IAM bindings with a
// decision log, the IAM Service Account Credentials API, the Security Token
// Service (workload identity federation, GKE Workload Identity) and
// tokeninfo. Unmodified Google SDKs (golang.org/x/oauth2/google,
// google.golang.org/api/iamcredentials/v1, cloud.google.com/go) talk to it;
// the GKE metadata emulator, the gtoken webhook and the GCS emulator call
// its Go API (MintAccessToken, MintIDToken, VerifyAccessToken, HasRole,
// CheckPermission, Exchange).
//
// Hosts (routed by Host; on 127.0.0.1/localhost by path):
//
//   - accounts.google.com/.well-known/openid-configuration: Google's
//     discovery document (issuer https://accounts.google.com, jwks_uri
//     https://www.googleapis.com/oauth2/v3/certs, RS256).
//   - www.googleapis.com/oauth2/v3/certs (JWKS: kty, alg, use, kid, n, e),
//     /oauth2/v1/certs (kid -> self-signed PEM certificate),
//     /oauth2/v3/tokeninfo, /service_accounts/v1/jwk/EMAIL and
//     /service_accounts/v1/metadata/x509/EMAIL (the keys signJwt and
//     signBlob use). Keys are generated at run time (RSA-2048); kid is the
//     hex SHA-1 of the public key (40 digits, like Google's), stable per key.
//   - iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{EMAIL or
//     UNIQUE_ID}:generateAccessToken | :generateIdToken | :signJwt |
//     :signBlob. The caller is the Bearer access token (401 UNAUTHENTICATED
//     when missing, unknown or expired; 403 "Request had insufficient
//     authentication scopes." without cloud-platform or iam scope). The
//     caller's IAM identities need the verb's permission
//     (iam.serviceAccounts.getAccessToken, getOpenIdToken, signJwt,
//     signBlob) on the target account or its project; with delegates each
//     hop needs iam.serviceAccounts.implicitDelegation on the next. Denials
//     are 403 PERMISSION_DENIED "Permission 'P' denied on resource (or it
//     may not exist)." with an ErrorInfo IAM_PERMISSION_DENIED detail;
//     unknown accounts 404 NOT_FOUND "Not found; Gaia id not found for
//     email E"; bad bodies 400 INVALID_ARGUMENT (unknown JSON fields,
//     missing scope or audience, lifetime outside 1s..3600s).
//   - sts.googleapis.com/v1/token: RFC 8693 token exchange (form or JSON).
//     Audiences: //iam.googleapis.com/projects/NUM/locations/global/
//     workloadIdentityPools/POOL/providers/PROV, identitynamespace:POOL:ISSUER
//     (what GKE's metadata server sends) or a bare PROJECT.svc.id.goog. The
//     subject token is checked against the pool's issuer and allowed
//     audiences, then verified with internal/jwtverify against the issuer's
//     discovery + JWKS fetched over HTTPS with Options.HTTPClient. Answers
//     {access_token, issued_token_type, token_type, expires_in}; errors are
//     {"error", "error_description"}: invalid_request (bad parameters;
//     Google's audience message), invalid_target (unknown pool, Google's
//     message), invalid_grant (wrong issuer or audience, expired "ID Token
//     issued at N is stale to sign-in.", bad signature "Invalid JWT
//     signature.", JWKS unreachable "Error connecting to the given
//     credential's issuer."). Messages not taken from Google's
//     documentation follow its style and may differ in wording.
//   - oauth2.googleapis.com/tokeninfo?access_token=T: azp, aud, sub, scope,
//     exp, expires_in, email, email_verified (strings, as Google returns
//     them); 400 {"error":"invalid_token"} otherwise.
//   - iam.googleapis.com/v1/projects/P/serviceAccounts/E (GET only).
//
// Federated identities (the members an STS token carries, primary first):
// a GKE pool (ID ending in .svc.id.goog) with sub
// system:serviceaccount:NS:KSA gives serviceAccount:POOL[NS/KSA],
// principal://iam.googleapis.com/projects/NUM/locations/global/
// workloadIdentityPools/POOL/subject/ns/NS/sa/KSA, principalSet://...
// /namespace/NS and principalSet://.../POOL/*; other pools give
// principal://.../POOL/subject/SUB and principalSet://.../POOL/*.
// Bindings may name any of them. As in Google, roles/iam.workloadIdentityUser
// grants getAccessToken and getOpenIdToken (so a federated KSA identity can
// impersonate the GSA it is bound on), and so does
// roles/iam.serviceAccountTokenCreator.
//
// IAM: AddBinding(resource, role, members...) on projects/P,
// projects/P/serviceAccounts/EMAIL or projects/_/buckets/NAME. Service
// accounts inherit their project's bindings. Roles are the predefined ones
// the lab's emulators check (see KnownRoles) plus roles/owner, editor and
// viewer. Every HasRole / CheckPermission call and every STS exchange is
// an entry of the decision log (Options.Decisions, Service gcpiam; read
// with Decisions() or the lab's GET /_idlab/decisions).
//
// Fixtures (LoadFixtures: a file or a directory of *.yaml), errors located
// as file:line:
//
//	projects:
//	  - id: idlab
//	    number: "123456789012"          # optional; derived when absent
//	    serviceAccounts: [{id: reader, displayName: Reader}]
//	    workloadIdentityPools:          # for STS token exchange
//	      - id: idlab.svc.id.goog
//	        issuer: https://container.googleapis.com/v1/projects/idlab/locations/us-central1/clusters/gke
//	        audiences: ["idlab.svc.id.goog"]   # optional, see Pool.Audiences
//	        provider: gke                      # optional provider ID
//	    bindings:
//	      - {resource: projects/idlab/serviceAccounts/reader@idlab.iam.gserviceaccount.com, role: roles/iam.workloadIdentityUser, members: ["serviceAccount:idlab.svc.id.goog[team-a/app]"]}
//	      - {resource: projects/_/buckets/team-a-data, role: roles/storage.objectViewer, members: ["serviceAccount:reader@idlab.iam.gserviceaccount.com"]}
//
// With Options.DataDir the state (projects, accounts, bindings, pools,
// signing keys, live access tokens) is kept in DataDir/gcpiam.json (0600)
// and reloaded by New.
package gcpiam
