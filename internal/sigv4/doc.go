// Package sigv4 verifies AWS Signature Version 4 on requests from untrusted
// callers, in both the Authorization-header and presigned-URL forms, so the
// STS, S3 and SNS emulators authenticate SDK requests exactly as AWS does.
//
// Parse reads the signature (Authorization header with X-Amz-Date or Date,
// or the X-Amz-* query parameters); the caller looks the access key up, then
// Verify rebuilds the canonical request (S3: path signed as sent; others:
// path URI-encoded again) and checks date scope, skew (15 minutes), presign
// expiry and the HMAC. Failures are *Error values whose Code is the AWS
// error code to return (or to map: S3 says RequestTimeTooSkewed where the
// query APIs say SignatureDoesNotMatch "Signature expired").
package sigv4
