//go:build e2e

package gke

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/pyprobe"
)

// appTopic is the topic gke-reader may publish to (fixtures/aws/lab.yaml).
const appTopic = "arn:aws:sns:us-west-2:123456789012:app-a-events"

// TestGtokenAWSCLI: GKE to AWS as its users run it, Debian's awscli in a gke
// pod the gtoken webhook mutated (its init container writes the Google ID
// token; awscli's default chain trades it at STS for gke-reader): aws s3 cp
// from and to the bucket and aws sns publish to the topic work for the
// service account bound to team-a-reader, and the one bound to
// team-b-reader is refused by gke-reader's trust policy at STS, before any
// S3 or SNS call.
func TestGtokenAWSCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	gke := lab.Cluster(t, "gke")
	require.NotEmpty(t, lab.PyClientImage, "the lab was brought up without the Python client image (idlab up --pyclient)")
	lab.Namespace(ctx, t, gke, ns)
	for name, gsa := range map[string]string{"aws-app": readerA, "aws-other": readerB} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{gsaAnno: gsa, roleAnno: gkeReader}}}
		_, err := gke.CS.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	require.NoError(t, pyprobe.Install(ctx, gke.CS, ns))

	calls := []struct {
		name, action, resource string
		args                   []string
		wantOutput             string // for the bound service account
	}{
		{name: "aws-s3-cp-from-bucket", action: "s3:GetObject", resource: "arn:aws:s3:::app-a-data/hello.txt",
			args: []string{"s3-get", "app-a-data", "hello.txt"}, wantOutput: "hello from app-a-data"},
		{name: "aws-s3-cp-to-bucket", action: "s3:PutObject", resource: "arn:aws:s3:::app-a-data/gke/from-awscli.txt",
			args: []string{"s3-put", "app-a-data", "gke/from-awscli.txt", "written by awscli in gke"}},
		{name: "aws-sns-publish", action: "sns:Publish", resource: appTopic,
			args: []string{"sns-publish", appTopic, "hello from gke"}},
	}
	for _, c := range calls {
		for _, ksa := range []string{"aws-app", "aws-other"} {
			bound := ksa == "aws-app"
			t.Run(c.name+"/"+ksa, func(t *testing.T) {
				since := lab.LastDecisionID(ctx, t)
				pod := pyprobe.Use(podrun.PlainPod(fmt.Sprintf("%s-%s", c.name, ksa), ksa, lab.PyClientImage), pyprobe.AWSCLI, c.args...)
				// gtoken sets no region; the application does.
				pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env,
					corev1.EnvVar{Name: "AWS_REGION", Value: "us-west-2"}, corev1.EnvVar{Name: "AWS_DEFAULT_REGION", Value: "us-west-2"})
				res, err := podrun.Run(ctx, gke.CS, ns, pod)
				require.NoError(t, err)

				sts := lab.DecisionsSince(ctx, t, since, "sts:AssumeRoleWithWebIdentity", gkeReader)
				// Other suites read app-a-data/hello.txt at the same time (as
				// py-app): only gke-reader's sessions are this row's.
				calls := lab.DecisionsOf(ctx, t, labenv.DecisionQuery{Since: since, Action: c.action, Resource: c.resource,
					Principal: ":assumed-role/gke-reader/"})
				want, reason := "allow", ""
				if !bound {
					want = "AccessDenied"
				}
				if len(sts) > 0 {
					reason = "sts: " + sts[len(sts)-1].Effect + ": " + sts[len(sts)-1].Reason
				}
				if len(calls) > 0 {
					reason += fmt.Sprintf("; %s: %s", c.action, calls[len(calls)-1].Effect)
				}
				if !res.OK {
					reason = res.ErrorMessage + "; " + reason
				}
				labenv.Row(t, labenv.Outcome{Suite: "gke", Scenario: c.name + " (" + ksa + ")", Mechanism: "gtoken webhook (GKE to AWS, awscli)",
					Expected: want, Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: reason})
				require.NotEmpty(t, sts, "STS must have decided on %s", gkeReader)
				if bound {
					require.True(t, res.OK, "%s: %s", res.ErrorCode, res.ErrorMessage)
					if c.wantOutput != "" {
						require.Equal(t, c.wantOutput, res.Output)
					}
					require.Equal(t, "Allow", sts[len(sts)-1].Effect, sts[len(sts)-1].Explanation())
					require.NotEmpty(t, calls, "the emulator must have decided on %s %s", c.action, c.resource)
					require.Equal(t, "Allow", calls[len(calls)-1].Effect, calls[len(calls)-1].Explanation())
					return
				}
				require.False(t, res.OK, "team-b-reader's token must not become gke-reader, got %q", res.Output)
				require.Equal(t, "AccessDenied", res.ErrorCode, res.ErrorMessage)
				require.Contains(t, res.ErrorMessage, "AssumeRoleWithWebIdentity")
				for _, d := range sts {
					require.NotEqual(t, "Allow", d.Effect, d.Explanation())
				}
				require.Empty(t, calls, "no %s call without credentials", c.action)
			})
		}
	}
}
