package awss3_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awss3"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/clock"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

// fixture: role app-a owns bucket-a and may read two of B's buckets (only
// shared-b's policy lets it); getter-a may only GetObject in bucket-a;
// named-a is named by shared-b's policy but its own policies allow nothing
// there; app-b owns B's buckets.
const fixture = `accounts:
  - id: "111111111111"
    roles:
      - name: app-a
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
        inlinePolicies:
          s3:
            Version: "2012-10-17"
            Statement:
              - {Effect: Allow, Action: "s3:ListAllMyBuckets", Resource: "*"}
              - {Effect: Allow, Action: "s3:*", Resource: ["arn:aws:s3:::bucket-a", "arn:aws:s3:::bucket-a/*", "arn:aws:s3:::scratch-*"]}
              - {Effect: Allow, Action: ["s3:GetObject", "s3:ListBucket"], Resource: ["arn:aws:s3:::shared-b", "arn:aws:s3:::shared-b/*", "arn:aws:s3:::private-b", "arn:aws:s3:::private-b/*"]}
      - name: getter-a
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
        inlinePolicies:
          get: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket-a/*"}]}
      - name: named-a
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
        inlinePolicies:
          nothing: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:ListAllMyBuckets", Resource: "*"}]}
  - id: "222222222222"
    roles:
      - name: app-b
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
        inlinePolicies:
          s3: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:*", Resource: "*"}]}
`

const sharedBPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"CrossA","Effect":"Allow",
 "Principal":{"AWS":["arn:aws:iam::111111111111:role/app-a","arn:aws:iam::111111111111:role/named-a"]},
 "Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::shared-b","arn:aws:s3:::shared-b/*"]}]}`

const bucketAPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"NoSecrets","Effect":"Deny","Principal":"*",
 "Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/secret/*"}]}`

const publicPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*",
 "Action":"s3:GetObject","Resource":"arn:aws:s3:::public-a/*"}]}`

type lab struct {
	clock *clock.Clock
	iam   *awsiam.IAM
	srv   *awss3.Server
	ca    *certs.CA
}

func newLab(t testing.TB, dataDir string) *lab {
	t.Helper()
	ca, err := certs.NewCA("s3 test lab")
	require.NoError(t, err)
	clk := clock.New(nil)
	iam, err := awsiam.New(awsiam.Options{Now: clk.Now})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtureYAML("fixture.yaml", []byte(fixture)))
	srv, err := awss3.NewServer(awss3.Options{IAM: iam, Now: clk.Now, CA: ca, DataDir: dataDir})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	l := &lab{clock: clk, iam: iam, srv: srv, ca: ca}
	ctx := context.Background()
	h := srv.Handler()
	for _, spec := range []awss3.BucketSpec{
		{Name: "bucket-a", Owner: acctA, Policy: awsiam.MustParsePolicy(bucketAPolicy)},
		{Name: "public-a", Owner: acctA, Policy: awsiam.MustParsePolicy(publicPolicy)},
		{Name: "bucket-b", Owner: acctB},
		{Name: "shared-b", Owner: acctB, Policy: awsiam.MustParsePolicy(sharedBPolicy)},
		{Name: "private-b", Owner: acctB},
	} {
		require.NoError(t, h.CreateBucket(ctx, spec))
	}
	require.NoError(t, h.PutObject(ctx, "bucket-a", "hello.txt", []byte("hello from a"), "text/plain"))
	require.NoError(t, h.PutObject(ctx, "bucket-a", "secret/key.txt", []byte("top secret"), "text/plain"))
	require.NoError(t, h.PutObject(ctx, "public-a", "index.html", []byte("<h1>public</h1>"), "text/html"))
	require.NoError(t, h.PutObject(ctx, "bucket-b", "b.txt", []byte("b only"), ""))
	require.NoError(t, h.PutObject(ctx, "shared-b", "shared.txt", []byte("shared with a"), ""))
	require.NoError(t, h.PutObject(ctx, "private-b", "private.txt", []byte("private to b"), ""))
	return l
}

// session issues temporary credentials for a role session, as STS would.
func (l *lab) session(t testing.TB, roleARN string, d time.Duration) awsiam.Credentials {
	t.Helper()
	role, err := l.iam.Role(roleARN)
	require.NoError(t, err)
	p := awsiam.Principal{Type: awsiam.PrincipalAssumedRole, Account: role.Account, RoleARN: role.ARN, SessionName: "test",
		ARN: "arn:aws:sts::" + role.Account + ":assumed-role/" + role.Name + "/test", UserID: role.RoleID + ":test"}
	s, err := l.iam.IssueSession(awsiam.SessionSpec{Principal: p, Duration: d})
	require.NoError(t, err)
	return s.Credentials
}

func roleARN(acct, name string) string { return "arn:aws:iam::" + acct + ":role/" + name }

// client is the real SDK client against the lab, path-style.
func (l *lab) client(creds awsiam.Credentials, opts ...func(*s3.Options)) *s3.Client {
	cfg := aws.Config{Region: "us-east-1", HTTPClient: l.srv.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)}
	return s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(l.srv.URL())
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	}}, opts...)...)
}

func (l *lab) roleClient(t testing.TB, acct, role string) *s3.Client {
	t.Helper()
	return l.client(l.session(t, roleARN(acct, role), time.Hour))
}

// virtualHostClient dials the lab whatever host name the SDK addresses, so
// virtual-hosted requests (bucket.s3.us-east-1.amazonaws.com) reach it.
func (l *lab) virtualHostClient(creds awsiam.Credentials) *s3.Client {
	addr := l.srv.URL()[len("https://"):]
	tr := &http.Transport{TLSClientConfig: l.ca.ClientTLS(), DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	cfg := aws.Config{Region: "us-east-1", HTTPClient: &http.Client{Transport: tr},
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
}

func apiCode(t testing.TB, err error) string {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "want an AWS API error, got %v", err)
	return ae.ErrorCode()
}

type (
	typesDelete   = types.Delete
	typesObjectID = types.ObjectIdentifier
)
