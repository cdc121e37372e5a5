package cloud

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/oidc"
)

// Fixture text the cross-account flips change (fixtures/aws/lab.yaml).
const (
	xacctNoTrust     = "                AWS: arn:aws:iam::111122223333:root\n"
	xacctExternalID  = "              Condition:\n                StringEquals:\n                  sts:ExternalId: idlab-xacct-ext\n"
	xacctNoAssume    = "              - Sid: ReadOwnAccountBucketOnly\n                Effect: Allow\n                Action: s3:GetObject\n"
	xacctSourceAllow = "              - Sid: AssumeRolesOfB\n"
	xacctBucket      = "      - name: xacct-b-data\n        region: us-west-2\n"
)

// TestLabCrossAccountDenialsRestOnTheFixture is the test of the
// crossaccount suite's deny rows: each refusal, made as the suite makes it
// (web identity into account A, then sts:AssumeRole or s3:GetObject with
// the SDK), happens with fixtures/aws/lab.yaml as shipped and goes away
// when the one piece of fixture it rests on is changed: B's trust policy
// naming A's role, A's identity policy granting sts:AssumeRole, the
// sts:ExternalId condition, and for A reading B's bucket both A's identity
// policy and B's bucket policy (across accounts one alone is not enough).
// The chained-session limit rests on chaining, not on the fixture: see
// awssts's TestAssumeRoleChainLimit, where the same request from a user
// succeeds.
func TestLabCrossAccountDenialsRestOnTheFixture(t *testing.T) {
	raw, err := os.ReadFile("../../fixtures/aws/lab.yaml")
	require.NoError(t, err)
	shipped := string(raw)
	for _, s := range []string{xacctNoTrust, xacctExternalID, xacctNoAssume, xacctSourceAllow, xacctBucket} {
		require.Equal(t, 1, strings.Count(shipped, s), "fixture text %q must occur once", s)
	}
	identityS3 := func(f string) string {
		return strings.Replace(f, xacctSourceAllow, "              - {Effect: Allow, Action: s3:GetObject, Resource: \"arn:aws:s3:::xacct-b-data/*\"}\n"+xacctSourceAllow, 1)
	}
	bucketPolicy := func(f string) string {
		return strings.Replace(f, xacctBucket, xacctBucket+"        policy: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Principal: {AWS: \"arn:aws:iam::123456789012:role/xacct-source\"}, Action: s3:GetObject, Resource: \"arn:aws:s3:::xacct-b-data/*\"}]}\n", 1)
	}
	const (
		target  = "arn:aws:iam::210987654321:role/xacct-target"
		noTrust = "arn:aws:iam::210987654321:role/xacct-no-trust"
	)
	type row struct {
		name       string
		sa         string // web identity of idlab-xacct/<sa>, role xacct-<...>
		role       string // sts:AssumeRole target; "" reads B's bucket with the web identity session
		externalID string
	}
	rows := map[string]row{
		"trust-lacks-a":       {"b-trust-lacks-a", "app", noTrust, ""},
		"policy-lacks-assume": {"a-policy-lacks-assume", "no-assume", target, "idlab-xacct-ext"},
		"missing-external-id": {"external-id-missing", "app", target, ""},
		"wrong-external-id":   {"external-id-wrong", "app", target, "not-the-id"},
		"a-reads-b-bucket":    {"a-session-reads-b-bucket", "app", "", ""},
	}
	variants := []struct {
		name    string
		fixture string
		allowed []string // rows allowed with this fixture; all others refused
	}{
		{"shipped", shipped, nil},
		{"B trusts A's role", strings.Replace(shipped, xacctNoTrust, "                AWS: [arn:aws:iam::111122223333:root, arn:aws:iam::123456789012:role/xacct-source]\n", 1), []string{"trust-lacks-a"}},
		{"A's policy grants sts:AssumeRole", strings.Replace(shipped, xacctNoAssume, "              - {Effect: Allow, Action: sts:AssumeRole, Resource: \""+target+"\"}\n"+xacctNoAssume, 1), []string{"policy-lacks-assume"}},
		{"no external ID condition", strings.Replace(shipped, xacctExternalID, "", 1), []string{"missing-external-id", "wrong-external-id"}},
		{"A's identity policy alone", identityS3(shipped), nil},
		{"B's bucket policy alone", bucketPolicy(shipped), nil},
		{"A's identity policy and B's bucket policy", bucketPolicy(identityS3(shipped)), []string{"a-reads-b-bucket"}},
	}
	ctx := context.Background()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			c, minter := startCloudFor(t, eksIssuer, v.fixture, nil)
			for key, r := range rows {
				tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: "idlab-xacct", ServiceAccount: r.sa, Audiences: []string{"sts.amazonaws.com"}})
				require.NoError(t, err)
				source := "arn:aws:iam::123456789012:role/xacct-source"
				if r.sa == "no-assume" {
					source = "arn:aws:iam::123456789012:role/xacct-no-assume"
				}
				web := assumeWithWebIdentity(t, c, source, tok)
				cfg := aws.Config{Region: "us-west-2", HTTPClient: c.Client(), RetryMaxAttempts: 1,
					Credentials: credentials.NewStaticCredentialsProvider(web.AccessKeyID, web.SecretAccessKey, web.SessionToken)}
				c.IAM.ResetDecisions()
				var callErr error
				if r.role == "" {
					_, callErr = s3.NewFromConfig(cfg).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("xacct-b-data"), Key: aws.String("report.txt")})
				} else {
					in := &sts.AssumeRoleInput{RoleArn: aws.String(r.role), RoleSessionName: aws.String("fixture-check")}
					if r.externalID != "" {
						in.ExternalId = aws.String(r.externalID)
					}
					_, callErr = sts.NewFromConfig(cfg).AssumeRole(ctx, in)
				}
				if contains(v.allowed, key) {
					require.NoError(t, callErr, "%s with the %q fixture", r.name, v.name)
					continue
				}
				var ae smithy.APIError
				require.True(t, errors.As(callErr, &ae), "%s with the %q fixture must be refused, got %v", r.name, v.name, callErr)
				require.Equal(t, "AccessDenied", ae.ErrorCode(), r.name)
				ds := c.IAM.Decisions(awsiam.DecisionFilter{Effect: awsiam.ImplicitDeny})
				require.NotEmpty(t, ds, "%s: the refusal must be in the decision log", r.name)
				if v.name == "shipped" {
					t.Logf("%s: %s | %s", r.name, ae.ErrorMessage(), ds[len(ds)-1].Reason)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
