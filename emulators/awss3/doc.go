// Package awss3 emulates the Amazon S3 REST API for the lab: buckets,
// objects, listings, copies, multipart uploads and bucket policies, reached
// by unmodified SDKs (aws-sdk-go-v2, awscli) over path-style or
// virtual-hosted addressing. Every request is authenticated with SigV4
// through awsauth (or treated as anonymous when unsigned) and authorized
// by awsiam with the bucket policy as the resource policy, so allow and deny
// outcomes, and S3's exact error codes, match the real service.
//
// Objects live in a Store: in memory, or under Options.DataDir where writes
// are atomic (temp file, fsync, rename) and survive a restart.
package awss3
