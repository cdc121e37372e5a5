package idlab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
)

// The issuer and role of testdata/aws.yaml.
const (
	testIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/TESTCONTAINERS"
	appRole    = "arn:aws:iam::111111111111:role/app"
)

// checkAWS drives a running emulator as a pod's SDK does: a service
// account's token from the emulator's issuer, AssumeRoleWithWebIdentity at
// STS, S3 with the session. It checks the allowed calls, two denies (from
// the SDK's error and from the decision log) and the explicit-endpoint
// mode (AWS_ENDPOINT_URL with the CA bundle) on the published port.
func checkAWS(t *testing.T, c *Container) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, c.Ready(ctx))
	block, _ := pem.Decode(c.CACertPEM())
	require.NotNil(t, block, "CACertPEM holds a PEM block")
	ca, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	require.True(t, ca.IsCA)
	require.True(t, strings.HasPrefix(c.URL(), "https://127.0.0.1:"), c.URL())

	tests := []struct {
		name, serviceAccount, bucket string
		// refused is the cloud's error code; action and resource the
		// denied request in the decision log.
		refused, action, resource string
	}{
		{name: "own-bucket", serviceAccount: "app", bucket: "reports"},
		{name: "other-bucket", serviceAccount: "app", bucket: "secrets", refused: "AccessDenied",
			action: "s3:PutObject", resource: "arn:aws:s3:::secrets/q1.txt"},
		{name: "other-service-account", serviceAccount: "intruder", bucket: "reports", refused: "AccessDenied",
			action: "sts:AssumeRoleWithWebIdentity", resource: appRole},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, err := c.Decisions(ctx, DecisionFilter{})
			require.NoError(t, err)
			var since int64
			if len(before) > 0 {
				since = before[len(before)-1].Seq
			}
			tokenFile, err := c.TokenFile(ctx, testIssuer, "team-a", tc.serviceAccount)
			require.NoError(t, err)
			cfg := c.AWSConfig(appRole, tokenFile)
			err = putAndGet(ctx, s3.NewFromConfig(cfg), tc.bucket)
			if tc.refused == "" {
				require.NoError(t, err)
				id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				require.NoError(t, err)
				require.Equal(t, "arn:aws:sts::111111111111:assumed-role/app/"+SessionName, aws.ToString(id.Arn))
				return
			}
			var ae smithy.APIError
			require.True(t, errors.As(err, &ae), "%v", err)
			require.Equal(t, tc.refused, ae.ErrorCode())
			denies, err := c.Decisions(ctx, DecisionFilter{Effect: "Deny", Action: tc.action, Since: since})
			require.NoError(t, err)
			require.NotEmpty(t, denies, "the emulator logs the deny of %s", tc.action)
			require.Equal(t, tc.resource, denies[len(denies)-1].Resource)
		})
	}

	t.Run("explicit-endpoint", func(t *testing.T) {
		// As an app given AWS_ENDPOINT_URL and AWS_CA_BUNDLE: no pinned
		// dialer, the URL's own address and the CA alone.
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(c.CACertPEM()))
		plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		tokenFile, err := c.TokenFile(ctx, testIssuer, "team-a", "app")
		require.NoError(t, err)
		creds := c.AWSConfig(appRole, tokenFile).Credentials
		cfg := aws.Config{Region: c.Region(), HTTPClient: plain, BaseEndpoint: aws.String(c.Env()["AWS_ENDPOINT_URL"]), Credentials: creds, RetryMaxAttempts: 1}
		require.NoError(t, putAndGet(ctx, s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }), "reports"))
	})
}

// putAndGet puts an object into bucket and reads it back.
func putAndGet(ctx context.Context, c *s3.Client, bucket string) error {
	const body = "from the pod"
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("q1.txt"), Body: strings.NewReader(body)}); err != nil {
		return err
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("q1.txt")})
	if err != nil {
		return err
	}
	defer got.Body.Close()
	raw, err := io.ReadAll(got.Body)
	if err != nil {
		return err
	}
	if string(raw) != body {
		return errors.New("read back " + string(raw))
	}
	return nil
}
