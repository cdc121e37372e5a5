// Package jwtverify parses and verifies JSON Web Tokens from untrusted
// callers: the web-identity tokens the AWS STS, Google STS and Entra
// emulators trade for credentials.
//
// Verification is two-step so a caller can apply its own issuer and audience
// policy first: ParseUnverified (strict compact JWS: three unpadded base64url
// segments, JSON object header and claims, NumericDate times, at most
// MaxTokenSize bytes, never panics) and then Verifier.Verify / VerifyToken
// (alg allow-list that never admits "none" or HMAC, key by kid or the only
// usable key, key type and strength checked against alg, signature, then
// exp/nbf/iat with Leeway). Header URLs (jku, x5u) and embedded keys (jwk,
// x5c) are ignored: keys come only from the KeySet.
//
// DiscoveryKeys is the KeySet AWS STS behaves like: OIDC discovery at
// {iss}/.well-known/openid-configuration over HTTPS, issuer equality checked
// exactly, JWKS from jwks_uri (HTTPS only), bodies capped at
// MaxDocumentSize, cached per issuer for TTL, refetched on an unknown kid at
// most once per RefreshInterval. StaticKeys serves tests.
//
// Every failure is an *Error whose Code callers map to their cloud's wire
// errors (e.g. CodeExpired -> ExpiredTokenException, CodeKeyFetch ->
// IDPCommunicationError in AWS STS).
package jwtverify
