package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awss3"
	"github.com/idlab/idlab/harness/cloud"
)

const s3Fixture = `accounts:
  - id: "123456789012"
    roles:
      - name: writer
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
        inlinePolicies:
          s3: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:*", Resource: ["arn:aws:s3:::probe-data", "arn:aws:s3:::probe-data/*"]}]}
`

// hostRecorder notes the host and path of each request it sends.
type hostRecorder struct {
	mu    sync.Mutex
	urls  []string
	inner http.RoundTripper
}

func (h *hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.urls = append(h.urls, r.URL.Host+r.URL.Path)
	h.mu.Unlock()
	return h.inner.RoundTrip(r)
}

func TestS3CallsAddressing(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "iam.yaml"), []byte(s3Fixture), 0o644))
	c, err := cloud.New(cloud.Config{DataDir: filepath.Join(dir, "data"), FixturesDir: filepath.Join(dir, "iam.yaml"), Region: "us-west-2"})
	require.NoError(t, err)
	require.NoError(t, c.Start())
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	ctx := context.Background()
	require.NoError(t, c.S3.CreateBucket(ctx, awss3.BucketSpec{Name: "probe-data", Owner: "123456789012", Region: "us-west-2"}))
	role, err := c.IAM.Role("arn:aws:iam::123456789012:role/writer")
	require.NoError(t, err)
	s, err := c.IAM.IssueSession(awsiam.SessionSpec{Duration: time.Hour, Principal: awsiam.Principal{Type: awsiam.PrincipalAssumedRole,
		Account: role.Account, RoleARN: role.ARN, SessionName: "p", ARN: "arn:aws:sts::123456789012:assumed-role/writer/p", UserID: role.RoleID + ":p"}})
	require.NoError(t, err)
	rec := &hostRecorder{inner: c.Client().Transport}
	cfg := aws.Config{Region: "us-west-2", HTTPClient: &http.Client{Transport: rec}, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(s.Credentials.AccessKeyID, s.Credentials.SecretAccessKey, s.Credentials.SessionToken)}

	for _, tc := range []struct {
		args []string
		url  string
		out  string
	}{
		{[]string{"s3-put-path", "probe-data", "_idlab/probe.txt", "path"}, "s3.us-west-2.amazonaws.com/probe-data/_idlab/probe.txt", ""},
		{[]string{"s3-get-path", "probe-data", "_idlab/probe.txt"}, "s3.us-west-2.amazonaws.com/probe-data/_idlab/probe.txt", "path"},
		{[]string{"s3-put", "probe-data", "_idlab/probe.txt", "virtual"}, "probe-data.s3.us-west-2.amazonaws.com/_idlab/probe.txt", ""},
		{[]string{"s3-get", "probe-data", "_idlab/probe.txt"}, "probe-data.s3.us-west-2.amazonaws.com/_idlab/probe.txt", "virtual"},
	} {
		res := call(ctx, cfg, tc.args)
		require.True(t, res.OK, "%v: %s: %s", tc.args, res.ErrorCode, res.ErrorMessage)
		require.Equal(t, tc.out, res.Output)
		rec.mu.Lock()
		require.Equal(t, tc.url, rec.urls[len(rec.urls)-1], tc.args)
		rec.mu.Unlock()
	}
}
