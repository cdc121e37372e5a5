//go:build e2e

// Package smoke is the first end-to-end scenario: a pod in the eks cluster
// trades its projected service-account token at the emulated STS, through
// cluster DNS and the lab CA, and a pod of another service account is denied.
package smoke

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

const (
	namespace = "idlab-smoke"
	roleARN   = "arn:aws:iam::123456789012:role/app-a"
)

// env is the smoke namespace in the eks cluster with the two service
// accounts the lab fixture knows.
type env struct {
	lab    *labenv.Lab
	cs     kubernetes.Interface
	region string
}

func setup(ctx context.Context, t *testing.T) *env {
	t.Helper()
	lab := labenv.Open(t)
	eks := lab.Cluster(t, "eks")
	lab.Namespace(ctx, t, eks, namespace, "app-a", "app-b")
	return &env{lab: lab, cs: eks.CS, region: eks.Region}
}

func TestIRSASmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	e := setup(ctx, t)
	lab, cs := e.lab, e.cs

	tests := []struct {
		pod, sa  string
		wantARN  string
		wantCode string
	}{
		{"right-sa", "app-a", "arn:aws:sts::123456789012:assumed-role/app-a/", ""},
		{"other-sa", "app-b", "", "AccessDenied"},
	}
	for _, tc := range tests {
		t.Run(tc.pod, func(t *testing.T) {
			since := lab.LastDecisionID(ctx, t)
			res, err := podrun.Run(ctx, cs, namespace, podrun.IRSAPod(tc.pod, tc.sa, lab.ProbeImage, roleARN, e.region))
			require.NoError(t, err)
			labenv.Row(t, labenv.Outcome{Suite: "smoke", Scenario: tc.pod, Mechanism: "IRSA",
				Expected: labenv.Observed(tc.wantCode == "", tc.wantCode), Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: res.ErrorMessage})
			subject := "system:serviceaccount:" + namespace + ":" + tc.sa
			if tc.wantCode == "" {
				// app-a is smoke's own role, and its steps run one at a time.
				ds := lab.DecisionsSince(ctx, t, since, "sts:AssumeRoleWithWebIdentity", roleARN)
				require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
				require.True(t, strings.HasPrefix(res.Arn, tc.wantARN), res.Arn)
				require.NotEmpty(t, ds)
				require.Equal(t, "Allow", ds[len(ds)-1].Effect)
				return
			}
			require.False(t, res.OK, "pod %s must be denied, got %s", tc.pod, res.Arn)
			require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
			// The SDK's error carries the refusing STS response's request ID.
			require.NotEmpty(t, res.RequestID, "the SDK gave no request ID")
			ds := lab.DecisionsOf(ctx, t, labenv.DecisionQuery{Since: since, Action: "sts:AssumeRoleWithWebIdentity", Resource: roleARN, RequestID: res.RequestID})
			require.Len(t, ds, 1, "the denial must be in the emulator's decision log under request %s", res.RequestID)
			d := ds[0]
			require.Equal(t, "ImplicitDeny", d.Effect)
			require.Equal(t, roleARN, d.Resource)
			require.Contains(t, d.Reason, subject, "the log says which subject was refused")
			t.Logf("emulator decision: %s", d.Explanation())
		})
	}
}

// TestIRSAToS3AndSNS: app-a's pod, with the credentials STS gave it, reads
// its own bucket and announces on its own topic, and is refused app-b's
// bucket by the S3 emulator's IAM check (not by STS).
func TestIRSAToS3AndSNS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	e := setup(ctx, t)
	topic := "arn:aws:sns:" + e.region + ":123456789012:app-a-events"
	tests := []struct {
		pod        string
		args       []string
		wantOutput string // for allowed calls
		wantCode   string // for denied calls
		action     string
		resource   string
	}{
		{"s3-own-bucket", []string{"s3-get", "app-a-data", "hello.txt"}, "hello from app-a-data", "", "s3:GetObject", "arn:aws:s3:::app-a-data/hello.txt"},
		{"s3-other-bucket", []string{"s3-get", "app-b-data", "secret.txt"}, "", "AccessDenied", "s3:GetObject", "arn:aws:s3:::app-b-data/secret.txt"},
		{"s3-write-other-bucket", []string{"s3-put", "app-b-data", "planted.txt", "x"}, "", "AccessDenied", "s3:PutObject", "arn:aws:s3:::app-b-data/planted.txt"},
		{"sns-own-topic", []string{"sns-publish", topic, "uploaded hello.txt"}, "", "", "sns:Publish", topic},
	}
	for _, tc := range tests {
		t.Run(tc.pod, func(t *testing.T) {
			since := e.lab.LastDecisionID(ctx, t)
			pod := podrun.IRSAPod(tc.pod, "app-a", e.lab.ProbeImage, roleARN, e.region)
			pod.Spec.Containers[0].Args = tc.args
			res, err := podrun.Run(ctx, e.cs, namespace, pod)
			require.NoError(t, err)
			// pyclients and gke read the same objects at the same time: the
			// decision is the one on this call's request, by app-a's session.
			require.NotEmpty(t, res.RequestID, "the SDK gave no request ID: %s: %s", res.ErrorCode, res.ErrorMessage)
			ds := e.lab.DecisionsOf(ctx, t, labenv.DecisionQuery{Since: since, Action: tc.action, Resource: tc.resource,
				Principal: ":assumed-role/app-a/", RequestID: res.RequestID})
			require.Len(t, ds, 1, "the emulator must have decided %s on request %s by app-a", tc.action, res.RequestID)
			d := ds[0]
			labenv.Row(t, labenv.Outcome{Suite: "smoke", Scenario: tc.pod, Mechanism: "IRSA to " + strings.SplitN(tc.action, ":", 2)[0],
				Expected: labenv.Observed(tc.wantCode == "", tc.wantCode), Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: d.Effect + ": " + d.Reason})
			require.Equal(t, tc.resource, d.Resource)
			require.True(t, strings.HasPrefix(d.Principal, "arn:aws:sts::123456789012:assumed-role/app-a/"), d.Principal)
			if tc.wantCode == "" {
				require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
				if tc.wantOutput != "" {
					require.Equal(t, tc.wantOutput, res.Output)
				} else {
					require.NotEmpty(t, res.Output, "the call returned no ID")
				}
				require.Equal(t, "Allow", d.Effect)
				return
			}
			require.False(t, res.OK, "pod %s must be denied, got %q", tc.pod, res.Output)
			require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
			require.Equal(t, "ImplicitDeny", d.Effect)
			t.Logf("emulator decision: %s", d.Explanation())
		})
	}
}
