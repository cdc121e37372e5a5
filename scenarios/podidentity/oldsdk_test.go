//go:build e2e

package podidentity

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/pyprobe"
)

// oldBotocoreRefusal is what botocore before EKS Pod Identity support says
// of the agent's address: Debian bookworm's python3-botocore 1.29.27 and the
// botocore awscli 2.9.19 vendors both keep ContainerMetadataFetcher's
// _ALLOWED_HOSTS = ['169.254.170.2', 'localhost', '127.0.0.1'] and raise
// ValueError from _validate_allowed_url (botocore/utils.py in both
// packages). The same text is in aws-controllers-k8s/test-infra#922, whose
// fix was a newer boto3 (Pod Identity support came in boto3 ~1.34).
const oldBotocoreRefusal = "Unsupported host '169.254.170.23'.  Can only retrieve metadata from these hosts: 169.254.170.2, localhost, 127.0.0.1"

// TestEKSPodIdentityOldPythonSDKs: in a pod whose service account has an
// association (the webhook gives it AWS_CONTAINER_CREDENTIALS_FULL_URI=
// http://169.254.170.23/v1/credentials), Debian's boto3 and awscli refuse
// the agent's host before asking it, so EKS Auth never hears of them;
// aws-sdk-go-v2 in the same configuration gets its role, the row that
// shows the refusal is the SDK's and not the lab's.
func TestEKSPodIdentityOldPythonSDKs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	eks := lab.Cluster(t, "eks")
	// The association is idlab-podid/app's (fixtures/eks): the suite's own
	// namespace, made afresh (the top-level tests run one after another).
	oldNS := ns
	lab.Namespace(ctx, t, eks, oldNS, "app")
	require.NotEmpty(t, lab.PyClientImage, "the lab was brought up without the Python client image (idlab up --pyclient)")
	require.NoError(t, pyprobe.Install(ctx, eks.CS, oldNS))

	for _, client := range []string{pyprobe.Boto3, pyprobe.AWSCLI} {
		t.Run(client, func(t *testing.T) {
			since := lab.LastDecisionID(ctx, t)
			name := "old-" + client
			pod := pyprobe.Use(podrun.PlainPod(name, "app", lab.PyClientImage), client, "sts")
			res, err := podrun.Run(ctx, eks.CS, oldNS, pod)
			require.NoError(t, err)
			requireMutation(ctx, t, eks, oldNS, name, true)
			ds := lab.DecisionsSince(ctx, t, since, eksAuth, clusterARN)
			want := map[string]string{pyprobe.Boto3: "ValueError", pyprobe.AWSCLI: "ExitStatus255"}[client]
			labenv.Row(t, labenv.Outcome{Suite: "eks pod identity", Scenario: "debian " + client + " refuses 169.254.170.23 (aws-controllers-k8s/test-infra#922)",
				Mechanism: mechanism + " (" + client + ")", Expected: want, Observed: labenv.Observed(res.OK, res.ErrorCode),
				Reason: fmt.Sprintf("%s; %d EKS Auth requests", res.ErrorMessage, len(ds))})
			require.False(t, res.OK, "Debian's botocore has no EKS Pod Identity support, yet got %s", res.Arn)
			require.Equal(t, want, res.ErrorCode, res.ErrorMessage)
			require.Contains(t, res.ErrorMessage, oldBotocoreRefusal)
			require.Empty(t, ds, "the SDK refused the host: EKS Auth must not have been asked")
		})
	}
	t.Run("go-sdk", func(t *testing.T) {
		since := lab.LastDecisionID(ctx, t)
		res, err := podrun.Run(ctx, eks.CS, oldNS, podrun.PlainPod("go-sdk", "app", lab.ProbeImage))
		require.NoError(t, err)
		requireMutation(ctx, t, eks, oldNS, "go-sdk", true)
		ds := lab.DecisionsSince(ctx, t, since, eksAuth, clusterARN)
		reason := "no EKS Auth decision"
		if len(ds) > 0 {
			reason = ds[len(ds)-1].Effect + ": " + ds[len(ds)-1].Reason
		}
		labenv.Row(t, labenv.Outcome{Suite: "eks pod identity", Scenario: "aws-sdk-go-v2 in the same configuration gets its role",
			Mechanism: mechanism + " (Go SDK)", Expected: "allow", Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: reason})
		require.True(t, res.OK, "%s: %s", res.ErrorCode, res.ErrorMessage)
		require.True(t, strings.HasPrefix(res.Arn, "arn:aws:sts::"+account+":assumed-role/podid-app/"), res.Arn)
		require.NotEmpty(t, ds, "the Go SDK's credentials came through EKS Auth")
		require.Equal(t, "Allow", ds[len(ds)-1].Effect)
	})
}
