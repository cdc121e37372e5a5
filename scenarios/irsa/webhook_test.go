//go:build e2e

package irsa

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

// TestIRSAWebhook deploys nothing by hand: plain pods go through the pod
// identity webhook the lab runs in eks, which reads the service account's
// annotations and injects the token and environment, and the SDK in the pod
// does the rest.
func TestIRSAWebhook(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	eks := lab.Cluster(t, "eks")
	lab.Namespace(ctx, t, eks, ns)
	lab.Namespace(ctx, t, eks, otherNS)
	serviceAccount := func(t *testing.T, namespace, name string, annotations map[string]string) {
		t.Helper()
		_, err := eks.CS.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	// Created up front, so the webhook's cache has them.
	serviceAccount(t, ns, "app", map[string]string{"eks.amazonaws.com/role-arn": appRole})
	serviceAccount(t, ns, "other", nil)
	serviceAccount(t, ns, "typo", map[string]string{"eks.amazonaws.com/role-arn": appRole, "eks.amazonaws.com/audience": "sts.amazonaws.co"})

	tests := []struct {
		name        string
		namespace   string
		sa          string
		lateSA      map[string]string // create the SA right before the pod with these annotations
		annotations map[string]string // pod annotations
		role        string            // role the webhook should inject; "" = none
		// seen is what the webhook's admission line for a pod it leaves
		// without credentials must say: proof it saw the pod, since an
		// absent webhook (failurePolicy Ignore) leaves it alone too.
		seen     string
		wantRole string
		wantCode string
		wantLog  string
	}{
		{name: "annotated-sa", namespace: ns, sa: "app", role: appRole,
			wantRole: "arn:aws:sts::" + account + ":assumed-role/irsa-app/", wantLog: "Allow"},
		{name: "unannotated-sa", namespace: ns, sa: "other", wantCode: "ClientError",
			seen: ": not mutated: service account has no pod identity association and no role-arn annotation"},
		{name: "skip-containers", namespace: ns, sa: "app", annotations: map[string]string{"eks.amazonaws.com/skip-containers": "probe"}, wantCode: "ClientError",
			seen: ": mutated: sts_web_identity; skip-containers left alone: probe"},
		{name: "audience-annotation-typo", namespace: ns, sa: "typo", role: appRole, wantCode: "InvalidIdentityToken", wantLog: "Rejected"},
		// aws/amazon-eks-pod-identity-webhook#174: a pod created right after
		// its service account must still be mutated (the webhook looks the
		// account up from the API when its cache has not seen it yet).
		{name: "sa-created-just-before-pod", namespace: otherNS, sa: "app", lateSA: map[string]string{"eks.amazonaws.com/role-arn": wideRole},
			role: wideRole, wantRole: "arn:aws:sts::" + account + ":assumed-role/irsa-wide/", wantLog: "Allow"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.lateSA != nil {
				serviceAccount(t, tc.namespace, tc.sa, tc.lateSA)
			}
			since, start := lab.LastDecisionID(ctx, t), time.Now()
			pod := podrun.PlainPod(tc.name, tc.sa, lab.ProbeImage)
			pod.Annotations = tc.annotations
			res, err := podrun.Run(ctx, eks.CS, tc.namespace, pod)
			require.NoError(t, err)

			// What the webhook did, read back from the API server.
			got, err := eks.CS.CoreV1().Pods(tc.namespace).Get(ctx, tc.name, metav1.GetOptions{})
			require.NoError(t, err)
			env := map[string]string{}
			for _, e := range got.Spec.Containers[0].Env {
				env[e.Name] = e.Value
			}
			require.Equal(t, tc.role, env["AWS_ROLE_ARN"], "AWS_ROLE_ARN injected by the webhook")
			if tc.role != "" {
				require.Equal(t, "/var/run/secrets/eks.amazonaws.com/serviceaccount/token", env["AWS_WEB_IDENTITY_TOKEN_FILE"])
				require.Equal(t, eks.Region, env["AWS_REGION"])
				require.Equal(t, "regional", env["AWS_STS_REGIONAL_ENDPOINTS"])
			}

			reason, admission := res.ErrorMessage, ""
			if tc.seen != "" {
				admission = labenv.AdmissionEvidence(eks.IRSAWebhookAdmission(ctx, t, tc.namespace, tc.name, start))
				reason = admission + "; SDK: " + reason
			}
			labenv.Row(t, labenv.Outcome{Suite: "irsa webhook", Scenario: tc.name, Mechanism: "IRSA webhook",
				Expected: expected(tc.wantCode), Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: reason})
			require.Contains(t, admission, tc.seen, "the webhook saw the pod it left without credentials")
			if tc.wantCode == "" {
				require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
				require.True(t, strings.HasPrefix(res.Arn, tc.wantRole), res.Arn)
			} else {
				require.False(t, res.OK, "%s must be refused, got %s", tc.name, res.Arn)
				require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
				t.Logf("%s: %s", res.ErrorCode, res.ErrorMessage)
			}
			if tc.role == "" {
				return // no credentials, so STS never heard of the pod
			}
			ds := lab.DecisionsSince(ctx, t, since, stsAction, tc.role)
			require.NotEmpty(t, ds)
			require.Equal(t, tc.wantLog, ds[len(ds)-1].Effect, ds[len(ds)-1].Explanation())
		})
	}
}
