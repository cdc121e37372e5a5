//go:build e2e

// Package crossaccount is the cross-account suite: a pod of the eks cluster
// gets a role of account A (123456789012) by IRSA web identity, then the
// unmodified SDK's stscreds.NewAssumeRoleProvider assumes a role of account
// B (210987654321), as an application reaching another account does. Each
// row states the outcome and, for a refusal, the exact error code and the
// emulator's decision. TestLabCrossAccountDenialsRestOnTheFixture
// (denials_test.go) proves each refusal rests on the fixture piece named
// in its row; awssts's TestAssumeRoleChainLimit that the one-hour cap
// rests on chaining.
package crossaccount

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// The accounts, roles and namespace are in denials_test.go, shared with
// the suite's test of its tests.
const (
	region   = "us-west-2"
	bObject  = "arn:aws:s3:::xacct-b-data/report.txt"
	chainMsg = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
)

func TestCrossAccount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	eks := lab.Cluster(t, "eks")
	lab.Namespace(ctx, t, eks, ns, "app", "no-assume")

	// The web identity session's name is the SDK's own: the time in nanoseconds.
	session := `[0-9]+`
	deniedBy := func(role, target string) string {
		return `^User: arn:aws:sts::` + accountA + `:assumed-role/` + role + `/` + session +
			` is not authorized to perform: sts:AssumeRole on resource: ` + regexp.QuoteMeta(target) + `$`
	}
	tests := []struct {
		name     string
		sa       string
		role     string   // web identity role in account A
		args     []string // probe call
		action   string   // decision looked up
		resource string
		wantARN  string // caller ARN prefix when allowed (GetCallerIdentity)
		wantOut  string // probe output when allowed (s3-get)
		wantCode string
		wantMsg  string // regexp the SDK error message must match
		wantLog  string // decision effect
		reason   string // part of the decision's reason
	}{
		{name: "web-identity-into-a", sa: "app", role: sourceRole,
			action: "sts:AssumeRoleWithWebIdentity", resource: sourceRole,
			wantARN: "arn:aws:sts::" + accountA + ":assumed-role/xacct-source/", wantLog: "Allow"},
		// B's trust names A's role with the external ID, and A's identity
		// policy grants sts:AssumeRole on it: both sides allow.
		{name: "assume-into-b", sa: "app", role: sourceRole, args: []string{"assume-role", targetRole, externalID},
			action: "sts:AssumeRole", resource: targetRole,
			wantARN: "arn:aws:sts::" + accountB + ":assumed-role/xacct-target/idlab-probe", wantLog: "Allow", reason: "allowed across accounts"},
		{name: "b-trust-lacks-a", sa: "app", role: sourceRole, args: []string{"assume-role", noTrust},
			action: "sts:AssumeRole", resource: noTrust,
			wantCode: "AccessDenied", wantMsg: deniedBy("xacct-source", noTrust), wantLog: "ImplicitDeny",
			reason: "trust policy of " + noTrust + " does not allow this principal"},
		{name: "a-policy-lacks-assume", sa: "no-assume", role: noAssume, args: []string{"assume-role", targetRole, externalID},
			action: "sts:AssumeRole", resource: targetRole,
			wantCode: "AccessDenied", wantMsg: deniedBy("xacct-no-assume", targetRole), wantLog: "ImplicitDeny",
			reason: "no identity policy in account " + accountA + " does"},
		{name: "external-id-missing", sa: "app", role: sourceRole, args: []string{"assume-role", targetRole},
			action: "sts:AssumeRole", resource: targetRole,
			wantCode: "AccessDenied", wantMsg: deniedBy("xacct-source", targetRole), wantLog: "ImplicitDeny",
			reason: "the request has no sts:ExternalId"},
		{name: "external-id-wrong", sa: "app", role: sourceRole, args: []string{"assume-role", targetRole, "not-the-id"},
			action: "sts:AssumeRole", resource: targetRole,
			wantCode: "AccessDenied", wantMsg: deniedBy("xacct-source", targetRole), wantLog: "ImplicitDeny",
			reason: `sts:ExternalId wants "idlab-xacct-ext", got "not-the-id"`},
		// Role chaining: the web identity session assuming another role is
		// a chain, capped at one hour though xacct-target allows two.
		{name: "chained-one-hour", sa: "app", role: sourceRole, args: []string{"assume-role", targetRole, externalID, "3600"},
			action: "sts:AssumeRole", resource: targetRole,
			wantARN: "arn:aws:sts::" + accountB + ":assumed-role/xacct-target/idlab-probe", wantLog: "Allow"},
		{name: "chained-two-hours", sa: "app", role: sourceRole, args: []string{"assume-role", targetRole, externalID, "7200"},
			action: "sts:AssumeRole", resource: targetRole,
			wantCode: "ValidationError", wantMsg: "^" + regexp.QuoteMeta(chainMsg) + "$", wantLog: "Rejected", reason: chainMsg},
		{name: "b-session-reads-b-bucket", sa: "app", role: sourceRole,
			args:   []string{"assume-role", targetRole, externalID, "--", "s3-get", "xacct-b-data", "report.txt"},
			action: "s3:GetObject", resource: bObject, wantOut: "account B's report", wantLog: "Allow"},
		// A's session has no S3 grant and B's bucket no policy for A.
		{name: "a-session-reads-b-bucket", sa: "app", role: sourceRole, args: []string{"s3-get", "xacct-b-data", "report.txt"},
			action: "s3:GetObject", resource: bObject,
			wantCode: "AccessDenied", wantMsg: "^Access Denied$", wantLog: "ImplicitDeny",
			reason: "bucket policy of xacct-b-data does not allow this principal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			since := lab.LastDecisionID(ctx, t)
			pod := podrun.WithArgs(podrun.IRSAPod(tc.name, tc.sa, lab.ProbeImage, tc.role, region), tc.args...)
			res, err := podrun.Run(ctx, eks.CS, ns, pod)
			require.NoError(t, err)
			ds := lab.DecisionsSince(ctx, t, since, tc.action, tc.resource)
			require.NotEmpty(t, ds, "the emulator must have logged a decision on %s %s", tc.action, tc.resource)
			d := ds[len(ds)-1]
			labenv.Row(t, labenv.Outcome{Suite: "cross-account", Scenario: tc.name, Mechanism: "IRSA + sts:AssumeRole (eks)",
				Expected: labenv.Observed(tc.wantCode == "", tc.wantCode), Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: d.Effect + ": " + d.Reason})
			require.Equal(t, tc.wantLog, d.Effect, d.Explanation())
			require.Contains(t, d.Reason, tc.reason)
			if tc.wantCode == "" {
				require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
				if tc.wantOut != "" {
					require.Equal(t, tc.wantOut, res.Output)
				} else {
					require.Regexp(t, "^"+regexp.QuoteMeta(tc.wantARN), res.Arn)
				}
				return
			}
			require.False(t, res.OK, "%s must be refused, got %s", tc.name, res.Arn)
			require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
			require.Regexp(t, tc.wantMsg, res.ErrorMessage)
			t.Logf("%s: %s", tc.wantCode, d.Explanation())
		})
	}
}
