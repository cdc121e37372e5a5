// Package jwtverify parses and verifies JSON Web Tokens from untrusted
// callers: the web-identity tokens AWS STS, Google STS and Entra emulators
// trade for credentials. It enforces an algorithm allow-list (never "none" or
// HMAC), finds keys through OIDC discovery, and reports every failure as an
// *Error with a Code the emulators map to their cloud's error codes.
package jwtverify
