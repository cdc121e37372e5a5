//go:build e2e

// Package pyclients runs the IRSA isolation rows with Debian's own Python
// clients, boto3 and awscli, from the lab's idlab/pyclient image (`idlab up
// --pyclient`): each row is one unmodified client in a pod whose projected
// token and environment are what the EKS pod identity webhook injects, and
// states what the client reports (its error code) and what the emulator's
// decision log records.
package pyclients

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/pyprobe"
)

const (
	account   = "123456789012"
	region    = "us-west-2"
	pyRole    = "arn:aws:iam::" + account + ":role/py-app"
	ns        = "idlab-pyclients"
	otherNS   = "idlab-pyclients-other"
	stsAction = "sts:AssumeRoleWithWebIdentity"
	s3Action  = "s3:GetObject"
)

// pyclientLab opens the lab, which must have the Python client image, and
// its eks cluster.
func pyclientLab(t *testing.T) (*labenv.Lab, *labenv.Cluster) {
	t.Helper()
	lab := labenv.Open(t)
	require.NotEmpty(t, lab.PyClientImage, "the lab was brought up without the Python client image (idlab up --pyclient)")
	return lab, lab.Cluster(t, "eks")
}

// probeNamespace makes namespace afresh with serviceAccounts and probe.py.
func probeNamespace(ctx context.Context, t *testing.T, lab *labenv.Lab, eks *labenv.Cluster, namespace string, serviceAccounts ...string) {
	t.Helper()
	lab.Namespace(ctx, t, eks, namespace, serviceAccounts...)
	require.NoError(t, pyprobe.Install(ctx, eks.CS, namespace))
}

// expected names a row's expected outcome: "allow" or the error code.
func expected(code string) string { return labenv.Observed(code == "", code) }

// row is one isolation row, run with each client.
type row struct {
	name      string
	namespace string
	sa        string
	audience  string
	call      []string // probe.py call; empty is sts
	resource  string   // what the decision is about: the role, or the S3 object
	wantCode  map[string]string
	wantLog   string // decision effect: Allow, ImplicitDeny or Rejected
	reason    string // part of the decision's reason
	wantOut   string // the object's text, for an allowed s3-get
}

// both expects the same code from both clients.
func both(code string) map[string]string {
	return map[string]string{pyprobe.Boto3: code, pyprobe.AWSCLI: code}
}

func TestPythonClientsIRSAIsolation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	lab, eks := pyclientLab(t)
	probeNamespace(ctx, t, lab, eks, ns, "app", "other")
	probeNamespace(ctx, t, lab, eks, otherNS, "app")

	const ownObject, otherObject = "arn:aws:s3:::app-a-data/hello.txt", "arn:aws:s3:::app-b-data/secret.txt"
	rows := []row{
		{name: "own-role", namespace: ns, sa: "app", resource: pyRole, wantCode: both(""), wantLog: "Allow"},
		{name: "other-sa-same-namespace", namespace: ns, sa: "other", resource: pyRole,
			wantCode: both("AccessDenied"), wantLog: "ImplicitDeny", reason: "system:serviceaccount:idlab-pyclients:other"},
		{name: "same-sa-other-namespace", namespace: otherNS, sa: "app", resource: pyRole,
			wantCode: both("AccessDenied"), wantLog: "ImplicitDeny", reason: "system:serviceaccount:idlab-pyclients-other:app"},
		{name: "audience-typo", namespace: ns, sa: "app", audience: "sts.amazonaws.co", resource: pyRole,
			wantCode: both("InvalidIdentityToken"), wantLog: "Rejected", reason: "Incorrect token audience"},
		{name: "s3-own-bucket", namespace: ns, sa: "app", call: []string{"s3-get", "app-a-data", "hello.txt"}, resource: ownObject,
			wantCode: both(""), wantLog: "Allow", wantOut: "hello from app-a-data"},
		// awscli's `s3 cp` asks HeadObject first; a refused HEAD has no
		// body, so awscli can only report the status, as with real S3.
		{name: "s3-other-bucket", namespace: ns, sa: "app", call: []string{"s3-get", "app-b-data", "secret.txt"}, resource: otherObject,
			wantCode: map[string]string{pyprobe.Boto3: "AccessDenied", pyprobe.AWSCLI: "403"}, wantLog: "ImplicitDeny", reason: "implicitly denied"},
	}
	for _, client := range []string{pyprobe.Boto3, pyprobe.AWSCLI} {
		for _, tc := range rows {
			t.Run(client+"/"+tc.name, func(t *testing.T) {
				runRow(ctx, t, lab, eks, client, tc)
			})
		}
		t.Run(client+"/repeated-calls", func(t *testing.T) { repeatedCalls(ctx, t, lab, eks, client) })
	}
}

// repeatedCalls runs the probe's loop mode (what rotation scenarios use):
// three calls three seconds apart all succeed with one token. boto3 keeps
// one session, so it trades the token once; awscli is a new process each
// time, and the row says how often it went to STS (awscli 2 keeps assumed
// credentials in its own cache, ~/.aws/cli/cache).
func repeatedCalls(ctx context.Context, t *testing.T, lab *labenv.Lab, eks *labenv.Cluster, client string) {
	since := lab.LastDecisionID(ctx, t)
	pod := pyprobe.Use(podrun.IRSAPod(client+"-repeated-calls", "app", lab.PyClientImage, pyRole, region), client,
		pyprobe.LoopArgs(3*time.Second, 6*time.Second)...)
	_, out, err := podrun.RunWithin(ctx, eks.CS, ns, pod, 3*time.Minute)
	require.NoError(t, err)
	calls, sum, err := pyprobe.ParseLoop(out)
	require.NoError(t, err, out)
	ds := lab.DecisionsSince(ctx, t, since, stsAction, pyRole)
	allowed := 0
	for _, d := range ds {
		if d.Effect == "Allow" {
			allowed++
		}
	}
	reason := fmt.Sprintf("%s; %d AssumeRoleWithWebIdentity allowed", sum.Output, allowed)
	labenv.Row(t, labenv.Outcome{Suite: "python clients", Scenario: "repeated calls (loop mode)", Mechanism: "IRSA (" + client + ")",
		Expected: "allow", Observed: labenv.Observed(sum.OK, sum.ErrorCode), Reason: reason})
	t.Log(reason)
	require.True(t, sum.OK, "%s: %s", sum.ErrorCode, sum.ErrorMessage)
	require.Len(t, calls, 3)
	require.Equal(t, 1, sum.Tokens, "one projected token in six seconds")
	for _, c := range calls {
		require.True(t, strings.HasPrefix(c.Arn, "arn:aws:sts::"+account+":assumed-role/py-app/"), c.Arn)
		require.False(t, c.TokenChanged)
		require.NotZero(t, c.TokenExp)
	}
	if client == pyprobe.Boto3 {
		require.Equal(t, 1, sum.AccessKeys, "boto3 reuses its session's credentials")
		require.Equal(t, 1, allowed, "boto3 assumes the role once: %v", ds)
		return
	}
	require.GreaterOrEqual(t, allowed, 1)
}

func runRow(ctx context.Context, t *testing.T, lab *labenv.Lab, eks *labenv.Cluster, client string, tc row) {
	since := lab.LastDecisionID(ctx, t)
	pod := podrun.IRSAPod(client+"-"+tc.name, tc.sa, lab.PyClientImage, pyRole, region)
	if tc.audience != "" {
		podrun.WithAudience(pod, tc.audience)
	}
	pyprobe.Use(pod, client, tc.call...)
	res, err := podrun.Run(ctx, eks.CS, tc.namespace, pod)
	require.NoError(t, err)

	// The decision this pod caused: on the role for STS rows; for S3 rows,
	// on the object by this role's sessions (other suites read the same
	// buckets at the same time).
	filter := labenv.DecisionQuery{Resource: tc.resource, Since: since, Action: stsAction}
	if len(tc.call) > 0 {
		filter.Action = s3Action
		filter.Principal = ":assumed-role/py-app/"
	}
	ds, err := lab.Decisions(ctx, filter)
	require.NoError(t, err)
	require.NotEmpty(t, ds, "the emulator must have logged a decision (%v)", filter)
	d := ds[len(ds)-1]
	want := tc.wantCode[client]
	labenv.Row(t, labenv.Outcome{Suite: "python clients", Scenario: tc.name, Mechanism: "IRSA (" + client + ")",
		Expected: expected(want), Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: d.Effect + ": " + d.Reason})
	require.Equal(t, tc.wantLog, d.Effect, d.Explanation())
	if want == "" {
		require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
		if tc.wantOut != "" {
			require.Equal(t, tc.wantOut, res.Output)
			require.Contains(t, d.Principal, ":assumed-role/py-app/")
			return
		}
		require.True(t, strings.HasPrefix(res.Arn, "arn:aws:sts::"+account+":assumed-role/py-app/"), res.Arn)
		require.Equal(t, account, res.Account)
		return
	}
	require.False(t, res.OK, "%s must be refused, got %s %q", tc.name, res.Arn, res.Output)
	require.Equal(t, want, res.ErrorCode, res.ErrorMessage)
	require.Contains(t, d.Reason, tc.reason)
	t.Logf("%s: %s (%s)", want, res.ErrorMessage, describe(d))
}

func describe(d harness.Decision) string {
	return fmt.Sprintf("%s %s %s by %s: %s", d.Effect, d.Action, d.Resource, d.Principal, d.Explanation())
}
