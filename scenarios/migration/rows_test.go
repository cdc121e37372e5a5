package migration

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/kit/pyprobe"
)

// S3's messages for the rows' refusals, as S3 words them:
//   - a key S3 does not know: 403 InvalidAccessKeyId, as users quote S3's
//     XML (versity/versitygw#1498, minio/minio#9973). That S3 answers a
//     key UpdateAccessKey made Inactive the same way is the emulator's
//     rule (awsiam.LookupAccessKey) and what error guides say of
//     deactivated keys; no AWS page or issue found here quotes S3's
//     answer for an inactive key itself;
//   - a presigned URL whose session credentials have expired, though
//     X-Amz-Expires has not: 400 ExpiredToken, as users quote S3's XML
//     (boto/boto3#2392, aws/aws-sdk-js#1099);
//   - Signature Version 2 for a bucket created after June 24, 2020: 400
//     InvalidRequest (emulators/awss3's doc cites AWS).
const (
	msgInvalidAccessKeyID = "The AWS Access Key Id you provided does not exist in our records."
	msgExpiredToken       = "The provided token has expired."
	msgSigV2              = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
)

// The matrix's suite and mechanisms.
const (
	suite      = "migration"
	mechStatic = "static keys (Flask + boto3)"
	mechIRSA   = "IRSA (Flask + boto3)"
)

// The principals of the rows' decisions (substrings): StaticUser and
// migration-app's sessions.
const (
	userPrincipal = StaticUserARN
	rolePrincipal = ":assumed-role/migration-app/"
)

// row is one row of the suite: what the app's user gets from the link (or
// the outside client from GetObject) and the emulator's decision on it.
type row struct {
	name, mechanism string
	// status is the link's HTTP status (0: the outside client's row).
	status int
	// code and message are S3's error; "" reads ObjectText.
	code, message string
	// signature is how botocore presigned the link.
	signature string
	// action, principal (a substring), effect and reason (a substring)
	// are the decision's.
	action, principal, effect, reason string
}

// The rows, in the migration's order.
var (
	rowStatic = row{name: "static-keys", mechanism: mechStatic, status: http.StatusOK, signature: "SigV4",
		action: "s3:GetObject", principal: userPrincipal, effect: "Allow"}
	rowLeak = row{name: "leaked-key-outside-cluster", mechanism: mechStatic,
		action: "s3:GetObject", principal: userPrincipal, effect: "Allow"}
	rowDeactivated = row{name: "deactivated-key", mechanism: mechStatic, status: http.StatusForbidden,
		code: "InvalidAccessKeyId", message: msgInvalidAccessKeyID, signature: "SigV4",
		action: "s3:Authenticate", principal: userPrincipal, effect: "Rejected", reason: "is Inactive (UpdateAccessKey)"}
	rowIRSA = row{name: "irsa", mechanism: mechIRSA, status: http.StatusOK, signature: "SigV4",
		action: "s3:GetObject", principal: rolePrincipal, effect: "Allow"}
	rowDefault = row{name: "default-presign", mechanism: mechIRSA, status: http.StatusBadRequest,
		code: "InvalidRequest", message: msgSigV2, signature: "SigV2",
		action: "s3:Authenticate", principal: rolePrincipal, effect: "Rejected", reason: "InvalidRequest: Signature Version 2"}
	rowExpired = row{name: "irsa-session-expired", mechanism: mechIRSA, status: http.StatusBadRequest,
		code: "ExpiredToken", message: msgExpiredToken, signature: "SigV4",
		action: "s3:Authenticate", principal: rolePrincipal, effect: "Rejected", reason: "ExpiredToken: the session's credentials (ASIA"}
)

// agePath is the admin request that ages migration-app's sessions by 90
// minutes, and nothing else (the lab clock of one role, awsiam.AgeSessions):
// a session the app got within the last half hour (an hour long, boto3
// asks for no duration) has expired, and not for so long (an hour) that
// the lab has purged it, which would make its key unknown.
var agePath = "/_idlab/clock?" + url.Values{"advance": {"90m"}, "role": {RoleARN}}.Encode()

// aged is the clock's answer to agePath.
type aged struct {
	SessionsAged int `json:"sessionsAged"`
}

// expected is the row's Expected column: "allow" or S3's code.
func (r row) expected() string {
	if r.code == "" {
		return "allow"
	}
	return r.code
}

// checkFetch asserts what the app's user got from the link; out is the
// fetching pod's log, for the message.
func (r row) checkFetch(t *testing.T, got pyprobe.Fetch, out string) {
	t.Helper()
	require.Equal(t, r.signature, got.Signature, "how botocore presigned decides what S3 answers: %s", out)
	require.Equal(t, r.status, got.Status, "%s: %s (%s)", got.ErrorCode, got.ErrorMessage, out)
	if r.code == "" {
		require.True(t, got.OK, "%s: %s", got.ErrorCode, got.ErrorMessage)
		require.Equal(t, ObjectText, got.Output)
		return
	}
	require.False(t, got.OK, "the link must not work: %s", out)
	require.Equal(t, r.code, got.ErrorCode, got.ErrorMessage)
	require.Equal(t, r.message, got.ErrorMessage)
}

// checkOutside asserts what the outside client got from GetObject.
func (r row) checkOutside(t *testing.T, body string, err error) {
	t.Helper()
	if r.code == "" {
		require.NoError(t, err)
		require.Equal(t, ObjectText, body)
		return
	}
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "want S3's error %s, got %v", r.code, err)
	require.Equal(t, r.code, ae.ErrorCode())
	require.Equal(t, r.message, ae.ErrorMessage())
}

// checkDecision asserts the emulator's decision on the row's request;
// explanation is the decision's Explanation(), for the message.
func (r row) checkDecision(t *testing.T, effect, principal, reason, explanation string) {
	t.Helper()
	require.Equal(t, r.effect, effect, explanation)
	require.Contains(t, principal, r.principal, explanation)
	require.Contains(t, reason, r.reason, explanation)
}

// staticKey is the access key the app first gets in a Secret: a new key
// of StaticUser, made through the IAM API as the walk-throughs make it
// (CreateAccessKey), deleted when the test ends. Keys an earlier run left
// are deleted first (a user has at most two).
type staticKey struct {
	iam *iam.Client
	key aws.Credentials
}

// newStaticKey makes the key through cl, the IAM API as the account's
// admin.
func newStaticKey(ctx context.Context, t *testing.T, cl *iam.Client) *staticKey {
	t.Helper()
	old, err := cl.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(StaticUser)})
	require.NoError(t, err)
	for _, k := range old.AccessKeyMetadata {
		_, err := cl.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(StaticUser), AccessKeyId: k.AccessKeyId})
		require.NoError(t, err, "an earlier run's key")
	}
	out, err := cl.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(StaticUser)})
	require.NoError(t, err)
	k := &staticKey{iam: cl, key: aws.Credentials{AccessKeyID: aws.ToString(out.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(out.AccessKey.SecretAccessKey)}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var nse *iamtypes.NoSuchEntityException
		if err := k.delete(ctx); err != nil && !errors.As(err, &nse) {
			t.Logf("delete access key %s of %s: %v", k.key.AccessKeyID, StaticUser, err)
		}
	})
	return k
}

// set makes the key Active or Inactive (UpdateAccessKey).
func (k *staticKey) set(ctx context.Context, t *testing.T, status iamtypes.StatusType) {
	t.Helper()
	_, err := k.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(StaticUser), AccessKeyId: aws.String(k.key.AccessKeyID), Status: status})
	require.NoError(t, err)
}

// delete deletes the key (DeleteAccessKey).
func (k *staticKey) delete(ctx context.Context) error {
	_, err := k.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(StaticUser), AccessKeyId: aws.String(k.key.AccessKeyID)})
	return err
}

// outsideS3 is the leak: the Secret's key used from outside the cluster,
// with aws-sdk-go-v2 at the lab's URL (path-style) through hc.
func outsideS3(endpoint string, hc *http.Client, key aws.Credentials) *s3.Client {
	return s3.New(s3.Options{Region: Region, BaseEndpoint: aws.String(endpoint), UsePathStyle: true, HTTPClient: hc, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")})
}

// readProfile gets the profile image with cl.
func readProfile(ctx context.Context, cl *s3.Client) (string, error) {
	out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(Bucket), Key: aws.String(ObjectKey)})
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return string(b), err
}
