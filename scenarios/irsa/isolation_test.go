//go:build e2e

// Package irsa is the IRSA isolation suite: pods in the lab's clusters trade
// projected service-account tokens at the emulated STS, and each row states
// who gets which role and, for a refusal, the exact error code the SDK in
// the pod reports and the emulator's decision log records.
package irsa

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

const (
	account   = "123456789012"
	region    = "us-west-2"
	appRole   = "arn:aws:iam::" + account + ":role/irsa-app"
	wideRole  = "arn:aws:iam::" + account + ":role/irsa-wide"
	ns        = "idlab-irsa"
	otherNS   = "idlab-irsa-other"
	stsAction = "sts:AssumeRoleWithWebIdentity"
)

// expected names a row's expected outcome: "allow" or the error code.
func expected(code string) string { return labenv.Observed(code == "", code) }

func TestIRSAIsolation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	eks, gke := lab.Cluster(t, "eks"), lab.Cluster(t, "gke")
	lab.Namespace(ctx, t, eks, ns, "app", "other")
	lab.Namespace(ctx, t, eks, otherNS, "app")
	// The gke cluster has its own issuer, which account 123456789012 does
	// not trust, though the namespace and service account names are equal.
	lab.Namespace(ctx, t, gke, ns, "app")

	tests := []struct {
		name      string
		cluster   *labenv.Cluster
		namespace string
		sa        string
		role      string
		audience  string
		wantRole  string // assumed-role ARN prefix when allowed
		wantCode  string // SDK error code when refused
		wantLog   string // decision effect: Allow, ImplicitDeny or Rejected
		reason    string // part of the decision's reason
	}{
		{name: "own-role", cluster: eks, namespace: ns, sa: "app", role: appRole,
			wantRole: "arn:aws:sts::" + account + ":assumed-role/irsa-app/", wantLog: "Allow"},
		{name: "other-sa-same-namespace", cluster: eks, namespace: ns, sa: "other", role: appRole,
			wantCode: "AccessDenied", wantLog: "ImplicitDeny", reason: "system:serviceaccount:idlab-irsa:other"},
		{name: "same-sa-other-namespace", cluster: eks, namespace: otherNS, sa: "app", role: appRole,
			wantCode: "AccessDenied", wantLog: "ImplicitDeny", reason: "system:serviceaccount:idlab-irsa-other:app"},
		{name: "same-sa-other-cluster", cluster: gke, namespace: ns, sa: "app", role: appRole,
			wantCode: "InvalidIdentityToken", wantLog: "Rejected", reason: "No OpenIDConnect provider found in your account for https://container.googleapis.com/"},
		{name: "audience-typo", cluster: eks, namespace: ns, sa: "app", role: appRole, audience: "sts.amazonaws.co",
			wantCode: "InvalidIdentityToken", wantLog: "Rejected", reason: "Incorrect token audience"},
		// Too wide: a StringLike wildcard on :sub hands the role to every
		// namespace's "app", so the other namespace gets it too.
		{name: "wildcard-trust-too-wide", cluster: eks, namespace: otherNS, sa: "app", role: wideRole,
			wantRole: "arn:aws:sts::" + account + ":assumed-role/irsa-wide/", wantLog: "Allow"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			since := lab.LastDecisionID(ctx, t)
			pod := podrun.IRSAPod(tc.name, tc.sa, lab.ProbeImage, tc.role, region)
			if tc.audience != "" {
				podrun.WithAudience(pod, tc.audience)
			}
			res, err := podrun.Run(ctx, tc.cluster.CS, tc.namespace, pod)
			require.NoError(t, err)
			ds := lab.DecisionsSince(ctx, t, since, stsAction, tc.role)
			require.NotEmpty(t, ds, "the emulator must have logged a decision")
			d := ds[len(ds)-1]
			labenv.Row(t, labenv.Outcome{Suite: "irsa isolation", Scenario: tc.name, Mechanism: "IRSA (" + tc.cluster.Name + ")",
				Expected: expected(tc.wantCode), Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: d.Effect + ": " + d.Reason})
			require.Equal(t, tc.role, d.Resource)
			require.Equal(t, tc.wantLog, d.Effect, d.Explanation())
			if tc.wantCode == "" {
				require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
				require.True(t, strings.HasPrefix(res.Arn, tc.wantRole), res.Arn)
				return
			}
			require.False(t, res.OK, "%s must be refused, got %s", tc.name, res.Arn)
			require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
			require.Contains(t, d.Reason, tc.reason)
			t.Logf("%s: %s", tc.wantCode, d.Explanation())
		})
	}
}
