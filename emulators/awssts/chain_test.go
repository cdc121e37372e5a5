package awssts_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
)

// chainFixture: user ops may assume hop (same account) and, like hop, the
// roles of account 222222222222; long allows four-hour sessions, short the
// default hour. Nothing but chaining and the roles' limits stands in the way.
const chainFixture = `accounts:
  - id: "111111111111"
    users:
      - name: ops
        inlinePolicies:
          assume: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: sts:AssumeRole, Resource: "*"}]}
    roles:
      - name: hop
        trustPolicy:
          Version: "2012-10-17"
          Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:user/ops"}, Action: sts:AssumeRole}]
        inlinePolicies:
          assume: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: sts:AssumeRole, Resource: "*"}]}
  - id: "222222222222"
    roles:
      - name: long
        maxSessionDuration: 4h
        trustPolicy:
          Version: "2012-10-17"
          Statement: [{Effect: Allow, Principal: {AWS: ["arn:aws:iam::111111111111:user/ops", "arn:aws:iam::111111111111:role/hop"]}, Action: sts:AssumeRole}]
      - name: short
        trustPolicy:
          Version: "2012-10-17"
          Statement: [{Effect: Allow, Principal: {AWS: ["arn:aws:iam::111111111111:user/ops", "arn:aws:iam::111111111111:role/hop"]}, Action: sts:AssumeRole}]
`

const msgChainLimit = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."

// TestAssumeRoleChainLimit: a session made by AssumeRole from a role session
// is capped at one hour, whatever the role's MaxSessionDuration, with AWS's
// ValidationError text; the same request from an IAM user (not a chain) is
// held only to the role's limit. A refused chain is in the decision log.
func TestAssumeRoleChainLimit(t *testing.T) {
	l := newLabWith(t, chainFixture, true)
	ctx := context.Background()
	l.sdkEnv(t, "", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
	t.Setenv("AWS_ROLE_ARN", "")
	key, err := l.iam.CreateAccessKey("111111111111", "ops")
	require.NoError(t, err)
	userCfg, err := config.LoadDefaultConfig(ctx, config.WithCredentialsProvider(
		credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")))
	require.NoError(t, err)
	assume := func(cfg aws.Config, role string, seconds int32) (*sts.AssumeRoleOutput, error) {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("chain")}
		if seconds > 0 {
			in.DurationSeconds = aws.Int32(seconds)
		}
		return sts.NewFromConfig(cfg, func(o *sts.Options) { o.RetryMaxAttempts = 1 }).AssumeRole(ctx, in)
	}
	hopOut, err := assume(userCfg, "arn:aws:iam::111111111111:role/hop", 0)
	require.NoError(t, err)
	hc := hopOut.Credentials
	hopCfg := userCfg.Copy()
	hopCfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(hc.AccessKeyId), aws.ToString(hc.SecretAccessKey), aws.ToString(hc.SessionToken))

	const long, short = "arn:aws:iam::222222222222:role/long", "arn:aws:iam::222222222222:role/short"
	tests := []struct {
		name     string
		chained  bool
		role     string
		seconds  int32 // 0: DurationSeconds not sent
		wantLife time.Duration
		wantMsg  string // ValidationError message when refused
	}{
		{"user, two hours on a four-hour role", false, long, 7200, 2 * time.Hour, ""},
		{"chain, two hours on a four-hour role", true, long, 7200, 0, msgChainLimit},
		{"chain, one second over the hour", true, long, 3601, 0, msgChainLimit},
		{"chain, exactly one hour", true, long, 3600, time.Hour, ""},
		{"chain, no DurationSeconds (one hour)", true, long, 0, time.Hour, ""},
		{"chain, fifteen minutes", true, long, 900, 15 * time.Minute, ""},
		{"user, two hours on a one-hour role", false, short, 7200, 0, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l.iam.ResetDecisions()
			cfg := userCfg
			if tc.chained {
				cfg = hopCfg
			}
			out, err := assume(cfg, tc.role, tc.seconds)
			if tc.wantMsg != "" {
				var ae smithy.APIError
				require.True(t, errors.As(err, &ae), "want an API error, got %v", err)
				require.Equal(t, "ValidationError", ae.ErrorCode())
				require.Equal(t, tc.wantMsg, ae.ErrorMessage())
				if tc.wantMsg == msgChainLimit {
					ds := l.iam.Decisions(awsiam.DecisionFilter{Action: "sts:AssumeRole", Resource: tc.role})
					require.Len(t, ds, 1, "the refused chain must be in the decision log")
					require.Equal(t, awsiam.Rejected, ds[0].Effect)
					require.Equal(t, "ValidationError: "+msgChainLimit, ds[0].Reason)
					require.Equal(t, "arn:aws:sts::111111111111:assumed-role/hop/chain", ds[0].Principal)
				}
				return
			}
			require.NoError(t, err)
			life := aws.ToTime(out.Credentials.Expiration).Sub(l.clock.Now())
			require.InDelta(t, tc.wantLife.Seconds(), life.Seconds(), 2)
		})
	}
}
