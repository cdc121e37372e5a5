package embed_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awss3"
	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/idlabtest"
)

const eksIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/EMBED"

// TestAWSWebIdentityThenS3 wires the AWS emulators by hand, as a user's
// test would without idlabtest: an EKS-style issuer, IAM, STS and S3
// sharing the issuer's CA (passed on as Options.CA without naming its
// type). The SDK trusts that CA from its PEM alone (AWS_CA_BUNDLE's way),
// trades the pod's token for the role at STS, and puts and gets an object
// with the session; another service account's token is refused.
func TestAWSWebIdentityThenS3(t *testing.T) {
	ctx := context.Background()
	issuers, err := oidc.NewServer(oidc.Options{})
	require.NoError(t, err)
	t.Cleanup(issuers.Close)
	iss, err := issuers.Handler().AddIssuer(eksIssuer)
	require.NoError(t, err)
	_, err = iss.AddKey("RS256")
	require.NoError(t, err)
	iam, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtures("testdata/aws.yaml"))
	stsSrv, err := awssts.NewServer(awssts.Options{IAM: iam, CA: issuers.CA(), HTTPClient: issuers.Client()})
	require.NoError(t, err)
	t.Cleanup(stsSrv.Close)
	s3Srv, err := awss3.NewServer(awss3.Options{IAM: iam, CA: issuers.CA(), Region: "us-west-2"})
	require.NoError(t, err)
	t.Cleanup(s3Srv.Close)
	require.NoError(t, s3Srv.Handler().LoadFixtures(ctx, "testdata/aws.yaml"))
	require.Equal(t, issuers.CACertPEM(), s3Srv.CACertPEM(), "one CA, shared through Options.CA")

	// The SDK's own config loading, isolated from the host's AWS files,
	// with the CA bundle as a pod gets it.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-west-2"), config.WithRetryMaxAttempts(1),
		config.WithCustomCABundle(bytes.NewReader(s3Srv.CACertPEM())),
		config.WithCredentialsProvider(aws.AnonymousCredentials{}))
	require.NoError(t, err)

	for _, tc := range []struct {
		serviceAccount string
		refused        string // STS's error code
	}{
		{serviceAccount: "app"},
		{serviceAccount: "intruder", refused: "AccessDenied"},
	} {
		t.Run(tc.serviceAccount, func(t *testing.T) {
			token, err := iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "team-a", ServiceAccount: tc.serviceAccount,
				Audiences: []string{"sts.amazonaws.com"}})
			require.NoError(t, err)
			out, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(stsSrv.URL()) }).
				AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String("arn:aws:iam::111111111111:role/app"),
					RoleSessionName: aws.String("embed"), WebIdentityToken: aws.String(token)})
			if tc.refused != "" {
				var ae smithy.APIError
				require.True(t, errors.As(err, &ae), "%v", err)
				require.Equal(t, tc.refused, ae.ErrorCode())
				return
			}
			require.NoError(t, err)
			require.Equal(t, "arn:aws:sts::111111111111:assumed-role/app/embed", aws.ToString(out.AssumedRoleUser.Arn))

			c := out.Credentials
			s3c := s3.NewFromConfig(cfg, func(o *s3.Options) {
				o.BaseEndpoint = aws.String(s3Srv.URL())
				o.UsePathStyle = true
				o.Credentials = credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
			})
			_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String("q1.txt"), Body: strings.NewReader("from the pod")})
			require.NoError(t, err)
			got, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("reports"), Key: aws.String("q1.txt")})
			require.NoError(t, err)
			defer got.Body.Close()
			body, err := io.ReadAll(got.Body)
			require.NoError(t, err)
			require.Equal(t, "from the pod", string(body))
			_, err = s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("reports"), Key: aws.String("q1.txt")})
			var ae smithy.APIError
			require.True(t, errors.As(err, &ae), "%v", err)
			require.Equal(t, "AccessDenied", ae.ErrorCode(), "the role may put and get, not delete")
		})
	}
}

// TestGoogleStorageRead: idlabtest's Google kit, a GKE pod's Workload
// Identity and the unmodified storage client.
func TestGoogleStorageRead(t *testing.T) {
	g := idlabtest.NewGoogle(t, idlabtest.GoogleOptions{
		IssuerURL: "https://container.googleapis.com/v1/projects/embed/locations/us-central1/clusters/ci",
		Fixtures:  []string{"testdata/gcp.yaml"}})
	for _, tc := range []struct {
		serviceAccount string
		want, refused  string
	}{
		{serviceAccount: "app", want: "hello from gcs"},
		{serviceAccount: "other", refused: "PERMISSION_DENIED"},
	} {
		t.Run(tc.serviceAccount, func(t *testing.T) {
			c := g.NewStorageClient(t, "embed.svc.id.goog", "team-a", tc.serviceAccount, "reader@embed.iam.gserviceaccount.com")
			r, err := c.Bucket("embed-data").Object("hello.txt").NewReader(context.Background())
			if tc.refused != "" {
				require.ErrorContains(t, err, tc.refused)
				return
			}
			require.NoError(t, err)
			defer r.Close()
			body, err := io.ReadAll(r)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(body))
		})
	}
}

// TestAzureBlobRead: idlabtest's Azure kit, an AKS pod's
// WorkloadIdentityCredential and the unmodified azblob client.
func TestAzureBlobRead(t *testing.T) {
	const tenant, app = "11111111-2222-4333-8444-555555555555", "99999999-8888-4777-8666-555555555555"
	a := idlabtest.NewAzure(t, idlabtest.AzureOptions{
		IssuerURL: "https://westus2.oic.prod-aks.azure.com/" + tenant + "/EMBED/",
		Fixtures:  []string{"testdata/azure.yaml"}})
	for _, tc := range []struct {
		serviceAccount string
		want, refused  string
	}{
		{serviceAccount: "app", want: "hello from azure"},
		{serviceAccount: "other", refused: "AADSTS700213"},
	} {
		t.Run(tc.serviceAccount, func(t *testing.T) {
			token, err := a.TokenFile("team-a", tc.serviceAccount)
			require.NoError(t, err)
			cred, err := a.Credential(tenant, app, token)
			require.NoError(t, err)
			c, err := a.BlobClient("embed", cred)
			require.NoError(t, err)
			resp, err := c.DownloadStream(context.Background(), "data", "hello.txt", nil)
			if tc.refused != "" {
				require.ErrorContains(t, err, tc.refused)
				return
			}
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(body))
		})
	}
}
