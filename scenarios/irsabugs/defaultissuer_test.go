//go:build e2e

package irsabugs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// TestDefaultClusterIssuer: a cluster whose kube-apiserver was left at the
// default --service-account-issuer, https://kubernetes.default.svc.cluster.local,
// signs its tokens with that iss; IAM has no OIDC provider for it, so STS
// refuses them ("No OpenIDConnect provider found in your account for
// https://kubernetes.default.svc.cluster.local") whatever the role trusts.
//
// The lab's clusters all have their issuer set, and a running
// kube-apiserver's cannot be changed, so the broken row's token is made by
// the lab's OIDC signer, which hosts that issuer for it: the claims a
// kube-apiserver gives a token of idlab-irsabugs/app for sts.amazonaws.com,
// with iss the default. The pod reads it from a mounted Secret through
// AWS_WEB_IDENTITY_TOKEN_FILE with the unmodified SDK, and STS refuses it on
// iss before it would look for a key, so who signed it does not matter to
// the outcome. The fixed row is the same pod presenting the token the eks
// cluster (issuer set) projects. TestLabDefaultIssuerDenialRestsOnTheIssuer
// (denials_test.go) is the test of both.
//
// Reproduces Azure/azure-workload-identity#616 for AWS (its thread shows
// the same default iss refused by Entra; scenarios/azure has that row).
func TestDefaultClusterIssuer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lab, eks := fixture(ctx, t)
	const issue, secret = "Azure/azure-workload-identity#616", "default-issuer-token"
	tok := lab.MintToken(ctx, t, defaultIssuer, ns, "app", "sts.amazonaws.com")
	_, err := eks.CS.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret},
		StringData: map[string]string{"token": tok}}, metav1.CreateOptions{})
	require.NoError(t, err)

	tests := []struct {
		name     string
		minted   bool // the pod presents the default issuer's token
		wantCode string
	}{
		{name: "default-cluster-issuer", minted: true, wantCode: "InvalidIdentityToken"},
		{name: "cluster-issuer-set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := podrun.IRSAPod(tc.name, "app", lab.ProbeImage, appRole, region)
			if tc.minted {
				podrun.WithTokenSecret(pod, secret, "AWS_WEB_IDENTITY_TOKEN_FILE")
			}
			_, res, ds := run(ctx, t, lab, eks, pod, appRole)
			require.NotEmpty(t, ds, "STS's decision on %s must be in the log", appRole)
			d := ds[len(ds)-1]
			row(t, byHand, tc.name, issue, labenv.Observed(tc.wantCode == "", tc.wantCode), res, d.Effect+": "+d.Reason)
			if tc.wantCode == "" {
				require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
				require.True(t, strings.HasPrefix(res.Arn, appARN), res.Arn)
				require.Equal(t, "Allow", d.Effect, d.Explanation())
				return
			}
			const msg = "No OpenIDConnect provider found in your account for " + defaultIssuer
			require.False(t, res.OK, "must be refused, got %s", res.Arn)
			require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
			require.Equal(t, msg, res.ErrorMessage)
			require.Equal(t, "Rejected", d.Effect)
			require.Equal(t, "InvalidIdentityToken: "+msg, d.Reason)
		})
	}
}
