// Package awsimds emulates the EC2 instance metadata service (IMDS) at
// http://169.254.169.254 for one instance: what the unmodified SDKs'
// instance-profile credential providers (aws-sdk-go-v2 ec2rolecreds +
// feature/ec2/imds, boto3, awscli) and the lab's kube2iam-style proxy read.
//
// IMDSv2: PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds
// (1..21600, else 400) returns a session token that GETs send as
// X-aws-ec2-metadata-token; a token that is malformed, forged or past its
// TTL gets 401. A token PUT carrying X-Forwarded-For gets 403, as AWS
// refuses token requests that went through a proxy. IMDSv1 (GET without a
// token) works unless Options.RequireV2 (HttpTokens=required), then 401.
//
// Hop limit, a documented model: on EC2 the token PUT's response leaves with
// IP TTL = HttpPutResponseHopLimit, so beyond that many hops (a container
// behind a bridge is one more) the packet dies and the client times out.
// TTLs cannot be emulated on loopback, so the lab's forwarding proxy (the
// node's iptables DNAT target) counts hops and states them in the
// X-Idlab-Hops request header (absent = 1, a process on the instance
// itself). When hops exceed Options.HopLimit the handler answers nothing
// and closes the connection, which SDKs treat as they treat the timeout:
// they give up on IMDSv2 and fall back to IMDSv1 if allowed. Only the token
// PUT is limited, as on EC2.
//
// Paths: /latest/meta-data/ (listing), instance-id, placement/region,
// placement/availability-zone, iam/info, iam/security-credentials/ (the
// role name), iam/security-credentials/ROLE (Code, LastUpdated, Type,
// AccessKeyId, SecretAccessKey, Token, Expiration), and
// /latest/dynamic/instance-identity/document. Unknown paths get IMDS's 404
// page. Credentials are IAM sessions of the instance profile's role named
// assumed-role/ROLE/INSTANCE-ID; the role's trust policy must allow
// ec2.amazonaws.com sts:AssumeRole (IAM decides and logs it), otherwise
// iam/info and the credentials answer Code AssumeRoleUnauthorizedAccess as
// EC2 does. Sessions last six hours and are replaced once less than 15
// minutes remain, so callers see the same keys until then.
package awsimds
