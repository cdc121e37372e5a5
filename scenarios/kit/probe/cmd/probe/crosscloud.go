package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"cloud.google.com/go/compute/metadata"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// gcpToAWS is what gtoken wires into a GKE pod, done in one process: a
// Google ID token for the pod's service account from the metadata server,
// written to a file, then the AWS SDK's web identity provider for roleARN,
// then an S3 read with those credentials. audience is the ID token's
// audience, gtoken's sts.amazonaws.com unless a scenario misspells it.
func gcpToAWS(ctx context.Context, roleARN, bucket, key, audience string) (string, error) {
	tok, err := metadata.GetWithContext(ctx, "instance/service-accounts/default/identity?audience="+url.QueryEscape(audience)+"&format=full")
	if err != nil {
		return "", fmt.Errorf("google id token: %w", err)
	}
	file := filepath.Join(os.TempDir(), "gcp-id-token")
	if err := os.WriteFile(file, []byte(tok), 0o600); err != nil {
		return "", err
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-west-2"))
	if err != nil {
		return "", err
	}
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(cfg), roleARN,
		stscreds.IdentityTokenFile(file), func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = "gke-pod" }))
	out, err := s3.NewFromConfig(cfg).GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 1<<20))
	return string(b), err
}
