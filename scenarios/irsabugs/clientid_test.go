//go:build e2e

package irsabugs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// TestOIDCClientIDTypo: an IAM OIDC provider registered with the client ID
// sts.amazon.com (a typo of sts.amazonaws.com, as the CloudFormation of
// awslabs/amazon-eks-irsa-cfn registered it until its PR #18) refuses the
// cluster's correct token, for sts.amazonaws.com, with InvalidIdentityToken
// "Incorrect token audience", before any trust policy is read. The same
// pod's token, for a role whose account registers the provider with the
// right client ID, assumes it. TestLabClientIDTypoDenialRestsOnTheClientID
// (denials_test.go) shows the typo's role let in once the fixture spells
// the client ID right.
//
// Reproduces awslabs/amazon-eks-irsa-cfn#18 (the summary of issue 19
// names it aws-samples/amazon-eks-irsa-cfn; the pull request is in
// awslabs: "Fix 'Incorrect token audience' error").
func TestOIDCClientIDTypo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lab, eks := fixture(ctx, t)
	const issue = "awslabs/amazon-eks-irsa-cfn#18"
	tests := []struct {
		name, role string
		wantCode   string
	}{
		{name: "oidc-client-id-typo", role: clientIDRole, wantCode: "InvalidIdentityToken"},
		{name: "oidc-client-id-correct", role: appRole},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A hand-made token volume (the webhook leaves the pod alone),
			// so the token is app's while the role is the row's.
			pod := podrun.IRSAPod(tc.name, "app", lab.ProbeImage, tc.role, region)
			_, res, ds := run(ctx, t, lab, eks, pod, tc.role)
			require.NotEmpty(t, ds, "STS's decision on %s must be in the log", tc.role)
			d := ds[len(ds)-1]
			row(t, byHand, tc.name, issue, labenv.Observed(tc.wantCode == "", tc.wantCode), res, d.Effect+": "+d.Reason)
			if tc.wantCode == "" {
				require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
				require.True(t, strings.HasPrefix(res.Arn, appARN), res.Arn)
				require.Equal(t, "Allow", d.Effect, d.Explanation())
				return
			}
			require.False(t, res.OK, "must be refused, got %s", res.Arn)
			require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
			require.Equal(t, "Incorrect token audience", res.ErrorMessage)
			require.Equal(t, "Rejected", d.Effect)
			require.Equal(t, "InvalidIdentityToken: Incorrect token audience", d.Reason)
		})
	}
}
