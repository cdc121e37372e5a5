package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awss3"
	"github.com/idlab/idlab/harness/cloud"
)

const stormFixture = `accounts:
  - id: "123456789012"
    roles:
      - name: storm-001
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
        inlinePolicies:
          own: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: "arn:aws:s3:::storm-data/001/*"}]}
`

// TestStorm: the storm mode reads the pod's own object and reports the
// refusal of another's as S3 gave it; a failed exchange skips both reads.
func TestStorm(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "iam.yaml"), []byte(stormFixture), 0o644))
	c, err := cloud.New(cloud.Config{DataDir: filepath.Join(dir, "data"), FixturesDir: filepath.Join(dir, "iam.yaml"), Region: "us-west-2"})
	require.NoError(t, err)
	require.NoError(t, c.Start())
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	ctx := context.Background()
	require.NoError(t, c.S3.CreateBucket(ctx, awss3.BucketSpec{Name: "storm-data", Owner: "123456789012", Region: "us-west-2"}))
	role, err := c.IAM.Role("arn:aws:iam::123456789012:role/storm-001")
	require.NoError(t, err)
	s, err := c.IAM.IssueSession(awsiam.SessionSpec{Duration: time.Hour, Principal: awsiam.Principal{Type: awsiam.PrincipalAssumedRole,
		Account: role.Account, RoleARN: role.ARN, SessionName: "p", ARN: "arn:aws:sts::123456789012:assumed-role/storm-001/p", UserID: role.RoleID + ":p"}})
	require.NoError(t, err)
	// The objects, written by the bucket owner's admin.
	admin, err := c.IAM.EnsureAdmin("123456789012")
	require.NoError(t, err)
	base := aws.Config{Region: "us-west-2", HTTPClient: &http.Client{Transport: c.Client().Transport}, RetryMaxAttempts: 1}
	adminCfg := base
	adminCfg.Credentials = credentials.NewStaticCredentialsProvider(admin.AccessKeyID, admin.SecretAccessKey, "")
	for _, key := range []string{"001/secret.txt", "002/secret.txt"} {
		_, err := s3.NewFromConfig(adminCfg).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("storm-data"), Key: aws.String(key), Body: strings.NewReader("text of " + key)})
		require.NoError(t, err)
	}

	cfg := base
	cfg.Credentials = credentials.NewStaticCredentialsProvider(s.Credentials.AccessKeyID, s.Credentials.SecretAccessKey, s.Credentials.SessionToken)
	got := storm(ctx, cfg, "storm-data", "001/secret.txt", "002/secret.txt")
	require.True(t, got.Exchange.OK, "%+v", got.Exchange)
	require.Equal(t, s.Credentials.AccessKeyID, got.Exchange.UserID)
	require.True(t, got.Own.OK, "%+v", got.Own)
	require.Equal(t, "text of 001/secret.txt", got.Own.Output)
	require.NotEmpty(t, got.Own.RequestID)
	require.False(t, got.Other.OK)
	require.Equal(t, "AccessDenied", got.Other.ErrorCode)
	require.NotEmpty(t, got.Other.RequestID, "the refusal's request ID finds its decision")
	require.Positive(t, got.OwnMillis)
	require.Positive(t, got.OtherMillis)

	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no token file")
	})
	got = storm(ctx, cfg, "storm-data", "001/secret.txt", "002/secret.txt")
	require.False(t, got.Exchange.OK)
	require.Equal(t, "ClientError", got.Exchange.ErrorCode)
	require.Contains(t, got.Exchange.ErrorMessage, "no token file")
	require.Zero(t, got.Own, "a failed exchange reads nothing")
	require.Zero(t, got.Other)
}
