// Package sigv4 verifies AWS Signature Version 4 on requests from untrusted
// callers, in both the Authorization-header and presigned-URL forms, so the
// STS, S3 and SNS emulators authenticate SDK requests exactly as AWS does.
// Failures are *Error values whose Code is the AWS error code to return.
package sigv4
