//go:build e2e

package rotation

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"
	authv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// deletedPod: a token bound to a pod still buys STS credentials after the
// pod is deleted, as with AWS, whose STS checks the signature, exp and the
// trust policy, never the cluster. The kube-apiserver itself stops
// accepting the token (TokenReview), which shows the binding is real.
func (e *env) deletedPod(ctx context.Context, t *testing.T) {
	start := time.Now()
	role := rolePfx + "deleted-pod"
	pods := e.eks.CS.CoreV1().Pods(ns)
	// The probe exits at once (no AWS settings); the pod object stays.
	pod, err := pods.Create(ctx, podrun.WithArgs(podrun.PlainPod("worker", "worker", e.lab.ProbeImage), "idle"), metav1.CreateOptions{})
	require.NoError(t, err)
	file := e.tokenFile(ctx, t, "worker", 600, &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID})
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	token := string(raw)
	review := func() *authv1.TokenReviewStatus {
		tr, err := e.eks.CS.AuthenticationV1().TokenReviews().Create(ctx, &authv1.TokenReview{Spec: authv1.TokenReviewSpec{
			Token: token, Audiences: []string{"sts.amazonaws.com"}}}, metav1.CreateOptions{})
		require.NoError(t, err)
		return &tr.Status
	}
	require.True(t, review().Authenticated, "the cluster accepts the token while the pod exists")

	zero := int64(0)
	require.NoError(t, pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}))
	until(ctx, t, 2*time.Minute, time.Second, func() bool {
		_, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	_, err = pods.Get(ctx, pod.Name, metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "pod deleted")
	// The API server reads pods through its informer: allow it to catch up.
	var after *authv1.TokenReviewStatus
	until(ctx, t, 30*time.Second, time.Second, func() bool { after = review(); return !after.Authenticated })

	id, err := e.assume(ctx, role, token)
	var arn string
	if err == nil {
		out, aerr := e.stsClient(nil).AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
			RoleArn: aws.String(role), RoleSessionName: aws.String("deleted-pod"), WebIdentityToken: aws.String(token)})
		require.NoError(t, aerr)
		c := out.Credentials
		who, werr := e.stsClient(credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))).
			GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		require.NoError(t, werr)
		arn = aws.ToString(who.Arn)
	}
	var d labDecision
	if id != "" {
		d = e.decision(ctx, t, role, id)
	}
	reason := fmt.Sprintf("pod deleted; kube-apiserver TokenReview: authenticated=%v (%s); STS %s as %s; took %s",
		after.Authenticated, after.Error, d.Effect, arn, took(start))
	labenv.Row(t, labenv.Outcome{Suite: suiteName, Tier: labenv.Slow, Scenario: "deleted pod's token still works at STS until it expires", Mechanism: "IRSA (eks)",
		Expected: "allow", Observed: labenv.Observed(err == nil, errCode(err)), Reason: reason})
	t.Log(reason)

	require.False(t, after.Authenticated, "the cluster no longer accepts a token whose pod is gone")
	require.NoError(t, err, "STS does not know the pod is gone")
	require.Equal(t, "Allow", d.Effect, d.Explanation)
	require.Equal(t, "arn:aws:sts::"+account+":assumed-role/rotation-deleted-pod/deleted-pod", arn)
}
