package labenv

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/iamimport"
)

// ImportIAM loads files into the lab's IAM as `idlab iam import FILE...`
// does: the JSON that aws iam get-role, get-role-policy,
// list-attached-role-policies, get-policy, get-policy-version and
// get-open-id-connect-provider print, as they are. Entities already there
// are updated in place, so a test may import a corrected file over the
// one it imported first. What the import did is logged.
func (l *Lab) ImportIAM(ctx context.Context, t *testing.T, files ...string) {
	t.Helper()
	require.NotEmpty(t, files, "no file to import")
	var parsed []*iamimport.File
	for _, name := range files {
		raw, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := iamimport.Parse(name, raw)
		require.NoError(t, err)
		parsed = append(parsed, f)
	}
	plan, err := iamimport.Build(parsed, iamimport.Options{})
	require.NoError(t, err)
	target, err := iamimport.LabTarget(ctx, l.State)
	require.NoError(t, err)
	var out strings.Builder
	err = iamimport.Apply(ctx, plan, target, &out)
	t.Logf("idlab iam import %s:\n%s", strings.Join(files, " "), out.String())
	require.NoError(t, err)
}

// IAM is a client (aws-sdk-go-v2) of the lab's IAM API as account's lab
// admin, which the lab makes when the account has none: a test changes the
// lab's roles and policies with it (UpdateAssumeRolePolicy,
// PutRolePolicy ...) as a user's script or awscli would, and STS and S3 use
// the change at once.
func (l *Lab) IAM(ctx context.Context, t *testing.T, account string) *iam.Client {
	t.Helper()
	creds, err := iamimport.LabAdmin(ctx, l.State, account)
	require.NoError(t, err)
	hc, err := l.HTTPClient()
	require.NoError(t, err)
	return iamimport.NewClient(l.EmulatorURL, hc, creds)
}

// S3 is a client (aws-sdk-go-v2) of the lab's S3 as account's lab admin,
// path-style on the emulator's host listener, which routes by the SigV4
// credential scope: a test makes buckets and objects with it as a user's
// script would.
func (l *Lab) S3(ctx context.Context, t *testing.T, account, region string) *s3.Client {
	t.Helper()
	creds, err := iamimport.LabAdmin(ctx, l.State, account)
	require.NoError(t, err)
	hc, err := l.HTTPClient()
	require.NoError(t, err)
	return s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(l.EmulatorURL), HTTPClient: hc, UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })})
}
