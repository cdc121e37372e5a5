// Package awss3 emulates the Amazon S3 REST API for the lab: buckets,
// objects, listings, copies, multipart uploads and bucket policies, reached
// by unmodified SDKs (aws-sdk-go-v2, awscli) over path-style or
// virtual-hosted addressing. Every request is authenticated with SigV4
// through awsauth (or treated as anonymous when unsigned) and authorized
// by awsiam with the bucket policy as the resource policy, so allow and deny
// outcomes, and S3's exact error codes, match the real service.
//
// Signature Version 2, an "Authorization: AWS AKID:SIGNATURE" header or a
// URL presigned with AWSAccessKeyId, Signature and Expires (what botocore
// 1.29, Debian's boto3, presigns by default), is refused with 400
// InvalidRequest "The authorization mechanism you have provided is not
// supported. Please use AWS4-HMAC-SHA256.": S3 accepts no SigV2 for buckets
// created after June 24, 2020, and every lab bucket is created now
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingAWSSDK.html#UsingAWSSDK-sig2-deprecation,
// and AWS's revised plan: https://repost.aws/questions/QU5OKPZ-HnS1SHXX6dUbGi2w).
// The code, message and status are S3's wherever it does not take SigV2,
// as users have quoted its XML answer (tclahr/uac#354, us-east-2, 2025).
// The refusal is in IAM's decision log as ActionAuthenticate, as is a
// request signed with an expired session's credentials (400 ExpiredToken
// "The provided token has expired."), naming the session, and one signed
// with a user's key UpdateAccessKey made Inactive (403 InvalidAccessKeyId,
// S3's answer for a key it does not know), naming the user.
//
// Objects live in a Store: in memory, or under Options.DataDir where writes
// are atomic (temp file, fsync, rename) and survive a restart.
package awss3
