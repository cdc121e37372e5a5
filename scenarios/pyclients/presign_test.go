//go:build e2e

package pyclients

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/pyprobe"
)

// presignRow is one presigned-URL row: how the pod's boto3 client presigns
// and what the same pod gets when it fetches the link.
type presignRow struct {
	name      string
	sigV4     bool   // Config(signature_version='s3v4'); false: boto3.client('s3') as is
	signature string // what botocore 1.29 puts in the URL in us-west-2
	status    int
	code      string // S3's error code; "" reads the object
	message   string
	decision  labenv.DecisionQuery // the emulator's decision on the fetch
	effect    string
}

// TestPythonPresignedURL: the IRSA walk-through's Flask app hands out links
// made by boto3.client('s3').generate_presigned_url('get_object', ...).
// Debian's botocore 1.29 presigns them with Signature Version 2 in
// us-west-2 (checked with python3-boto3 1.26.27 / botocore 1.29.27:
// AWSAccessKeyId, Signature, x-amz-security-token, Expires on
// BUCKET.s3.amazonaws.com), and S3 takes no SigV2 for buckets created after
// June 24, 2020, which every lab bucket is: 400 InvalidRequest. The control
// presigns with Config(signature_version='s3v4') and reads the object.
func TestPythonPresignedURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab, eks := pyclientLab(t)
	probeNamespace(ctx, t, lab, eks, ns, "app")

	const object = "arn:aws:s3:::app-a-data/hello.txt"
	byPyApp := func(action string) labenv.DecisionQuery {
		return labenv.DecisionQuery{Action: action, Resource: object, Principal: ":assumed-role/py-app/"}
	}
	rows := []presignRow{
		{name: "presigned-url-default-client", signature: "SigV2", status: 400, code: "InvalidRequest",
			message:  "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
			decision: byPyApp("s3:Authenticate"), effect: "Rejected"},
		{name: "presigned-url-s3v4-client", sigV4: true, signature: "SigV4", status: 200,
			decision: byPyApp("s3:GetObject"), effect: "Allow"},
	}
	for _, tc := range rows {
		t.Run(pyprobe.Boto3+"/"+tc.name, func(t *testing.T) { runPresignRow(ctx, t, lab, eks, tc) })
	}
}

func runPresignRow(ctx context.Context, t *testing.T, lab *labenv.Lab, eks *labenv.Cluster, tc presignRow) {
	since := lab.LastDecisionID(ctx, t)
	pod := pyprobe.Use(podrun.IRSAPod(tc.name, "app", lab.PyClientImage, pyRole, region), pyprobe.Boto3,
		pyprobe.PresignArgs("app-a-data", "hello.txt", tc.sigV4)...)
	_, out, err := podrun.RunWithin(ctx, eks.CS, ns, pod, 3*time.Minute)
	require.NoError(t, err)
	got, err := pyprobe.ParseFetch(out)
	require.NoError(t, err, out)

	filter := tc.decision
	filter.Since = since
	ds, err := lab.Decisions(ctx, filter)
	require.NoError(t, err)
	require.NotEmpty(t, ds, "the emulator must have logged a decision (%v)", filter)
	d := ds[len(ds)-1]
	labenv.Row(t, labenv.Outcome{Suite: "python clients", Scenario: tc.name, Mechanism: "IRSA (boto3)",
		Expected: expected(tc.code), Observed: labenv.Observed(got.OK, got.ErrorCode),
		Reason: fmt.Sprintf("%s URL for %s: HTTP %d; %s: %s", got.Signature, got.Host, got.Status, d.Effect, d.Reason)})

	require.Equal(t, tc.signature, got.Signature, "botocore's presign signature decides what S3 answers: %s", out)
	require.Equal(t, "app-a-data.s3.amazonaws.com", got.Host)
	require.Equal(t, tc.status, got.Status, "%s: %s", got.ErrorCode, got.ErrorMessage)
	require.Equal(t, tc.effect, d.Effect, d.Explanation())
	if tc.code == "" {
		require.True(t, got.OK, "%s: %s", got.ErrorCode, got.ErrorMessage)
		require.Equal(t, "hello from app-a-data", got.Output)
		return
	}
	require.False(t, got.OK)
	require.Equal(t, tc.code, got.ErrorCode)
	require.Equal(t, tc.message, got.ErrorMessage)
	require.Contains(t, d.Reason, "InvalidRequest: Signature Version 2")
}
