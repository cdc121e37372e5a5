package crossaccount

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// The suite's accounts, roles and namespace, shared by its e2e rows and
// the test of them here.
const (
	accountA   = "123456789012"
	accountB   = "210987654321"
	ns         = "idlab-xacct"
	sourceRole = "arn:aws:iam::" + accountA + ":role/xacct-source"
	noAssume   = "arn:aws:iam::" + accountA + ":role/xacct-no-assume"
	targetRole = "arn:aws:iam::" + accountB + ":role/xacct-target"
	noTrust    = "arn:aws:iam::" + accountB + ":role/xacct-no-trust"
	externalID = "idlab-xacct-ext"
)

// Fixture text the flips change (fixtures/aws/lab.yaml).
const (
	xacctNoTrust     = "                AWS: arn:aws:iam::111122223333:root\n"
	xacctExternalID  = "              Condition:\n                StringEquals:\n                  sts:ExternalId: idlab-xacct-ext\n"
	xacctNoAssume    = "              - Sid: ReadOwnAccountBucketOnly\n                Effect: Allow\n                Action: s3:GetObject\n"
	xacctSourceAllow = "              - Sid: AssumeRolesOfB\n"
	xacctBucket      = "      - name: xacct-b-data\n        region: us-west-2\n"
)

// TestLabCrossAccountDenialsRestOnTheFixture is the test of the suite's
// deny rows (no //go:build e2e: make test runs it): each refusal, made as
// the suite makes it (web identity into account A, then sts:AssumeRole or
// s3:GetObject with the SDK), happens with fixtures/aws/lab.yaml as
// shipped and goes away when the one piece of fixture it rests on is
// changed: B's trust policy naming A's role, A's identity policy granting
// sts:AssumeRole, the sts:ExternalId condition, and for A reading B's
// bucket both A's identity policy and B's bucket policy (across accounts
// one alone is not enough). The chained-session limit rests on chaining,
// not on the fixture: see awssts's TestAssumeRoleChainLimit.
func TestLabCrossAccountDenialsRestOnTheFixture(t *testing.T) {
	shipped := fixturecheck.Read(t, "aws/lab.yaml")
	identityS3 := func(f string) string {
		return fixturecheck.Replace(t, f, xacctSourceAllow, "              - {Effect: Allow, Action: s3:GetObject, Resource: \"arn:aws:s3:::xacct-b-data/*\"}\n"+xacctSourceAllow)
	}
	bucketPolicy := func(f string) string {
		return fixturecheck.Replace(t, f, xacctBucket, xacctBucket+"        policy: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Principal: {AWS: \""+sourceRole+"\"}, Action: s3:GetObject, Resource: \"arn:aws:s3:::xacct-b-data/*\"}]}\n")
	}
	type row struct {
		name       string
		sa         string // web identity of ns/<sa>
		role       string // sts:AssumeRole target; "" reads B's bucket with the web identity session
		externalID string
	}
	rows := map[string]row{
		"trust-lacks-a":       {"b-trust-lacks-a", "app", noTrust, ""},
		"policy-lacks-assume": {"a-policy-lacks-assume", "no-assume", targetRole, externalID},
		"missing-external-id": {"external-id-missing", "app", targetRole, ""},
		"wrong-external-id":   {"external-id-wrong", "app", targetRole, "not-the-id"},
		"a-reads-b-bucket":    {"a-session-reads-b-bucket", "app", "", ""},
	}
	variants := []struct {
		name    string
		fixture string
		allowed []string // rows allowed with this fixture; all others refused
	}{
		{"shipped", shipped, nil},
		{"B trusts A's role", fixturecheck.Replace(t, shipped, xacctNoTrust, "                AWS: [arn:aws:iam::111122223333:root, "+sourceRole+"]\n"), []string{"trust-lacks-a"}},
		{"A's policy grants sts:AssumeRole", fixturecheck.Replace(t, shipped, xacctNoAssume, "              - {Effect: Allow, Action: sts:AssumeRole, Resource: \""+targetRole+"\"}\n"+xacctNoAssume), []string{"policy-lacks-assume"}},
		{"no external ID condition", fixturecheck.Replace(t, shipped, xacctExternalID, ""), []string{"missing-external-id", "wrong-external-id"}},
		{"A's identity policy alone", identityS3(shipped), nil},
		{"B's bucket policy alone", bucketPolicy(shipped), nil},
		{"A's identity policy and B's bucket policy", bucketPolicy(identityS3(shipped)), []string{"a-reads-b-bucket"}},
	}
	ctx := context.Background()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			c := fixturecheck.AWSCloud(t, v.fixture)
			for key, r := range rows {
				token, err := c.TokenFile(fixturecheck.Issuer("eks"), ns, r.sa)
				require.NoError(t, err)
				source := sourceRole
				if r.sa == "no-assume" {
					source = noAssume
				}
				cfg := c.Config(source, token)
				_, err = cfg.Credentials.Retrieve(ctx) // the web identity session, before the log is cleared
				require.NoError(t, err)
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
				if slices.Contains(v.allowed, key) {
					require.NoError(t, callErr, "%s with the %q fixture", r.name, v.name)
					continue
				}
				var ae smithy.APIError
				require.True(t, errors.As(callErr, &ae), "%s with the %q fixture must be refused, got %v", r.name, v.name, callErr)
				require.Equal(t, "AccessDenied", ae.ErrorCode(), r.name)
				ds := c.IAM.Decisions(awsiam.DecisionFilter{Effect: awsiam.ImplicitDeny})
				require.NotEmpty(t, ds, "%s: the refusal must be in the decision log", r.name)
			}
		})
	}
}
