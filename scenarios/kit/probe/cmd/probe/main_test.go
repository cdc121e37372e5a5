package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/oidc"
)

// TestCallRequestID: a call's result carries the request ID of the
// response it comes from, which is the ID of the emulator's decision on
// it: the S3 call's when S3 decided, STS's when the credentials were
// refused.
func TestCallRequestID(t *testing.T) {
	tests := []struct {
		name     string
		sa       string
		args     []string
		wantCode string
		action   string // the decision the request ID names; "" for none
		effect   awsiam.Effect
	}{
		{name: "object allowed", sa: "app", args: []string{"s3-get", "probe-data", "hello.txt"}, action: "s3:GetObject", effect: awsiam.Allow},
		{name: "object denied", sa: "app", args: []string{"s3-get", "probe-data", "secret.txt"}, wantCode: "AccessDenied", action: "s3:GetObject", effect: awsiam.ImplicitDeny},
		{name: "credentials refused", sa: "other", args: []string{"s3-get", "probe-data", "hello.txt"}, wantCode: "AccessDenied",
			action: "sts:AssumeRoleWithWebIdentity", effect: awsiam.ImplicitDeny},
		{name: "caller identity", sa: "app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lab, iss, file := rotationLab(t)
			tok, err := iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "ns", ServiceAccount: tc.sa,
				Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: 600, IssuedAt: time.Now()})
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(file, []byte(tok), 0o600))
			t.Setenv("AWS_CA_BUNDLE", "") // lab.Client() trusts the lab CA and reaches S3's host names
			ctx := context.Background()
			cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(lab.Client()), config.WithRetryMaxAttempts(1))
			require.NoError(t, err)
			res := call(ctx, cfg, tc.args)
			require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
			require.Equal(t, tc.wantCode == "", res.OK)
			require.NotEmpty(t, res.RequestID)
			ds := lab.IAM.Decisions(awsiam.DecisionFilter{RequestID: res.RequestID})
			if tc.action == "" {
				require.Empty(t, ds, "GetCallerIdentity is not authorized, so not logged")
				return
			}
			require.Len(t, ds, 1, "one decision has the result's request ID")
			require.Equal(t, tc.action, ds[0].Action)
			require.Equal(t, tc.effect, ds[0].Effect)
		})
	}
}
