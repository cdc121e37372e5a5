//go:build e2e

// Package trustboundary shows that a workload under test cannot change the
// lab that judges it: a pod in the eks cluster sends the admin API's old
// requests (mint a signing key and a token, plant IAM fixtures, move the
// clock, wipe the decision log, list every bucket) to the cloud host names
// it reaches through cluster DNS and to the emulator's own address; each
// gets that cloud's own answer, and, read from the host through the admin
// API, nothing changed. Keys under _idlab/ are plain S3 keys.
// TestWorkloadCannotUseTheAdminAPI and TestAdminPrefixKeysAreS3
// (denials_test.go, run by make test) are its tests of the tests.
package trustboundary

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/trustboundary"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// namespace, account, roleARN, bucket and key are in denials_test.go,
// shared with the suite's test of its tests.

func TestAdminAPIIsNotOnTheCloudPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	eks := lab.Cluster(t, "eks")
	lab.Namespace(ctx, t, eks, namespace, "app")
	issuer := lab.Clusters["eks"].IssuerURL
	get := func(ctx context.Context, path string, out any) error {
		return lab.Admin(ctx, http.MethodGet, path, nil, out)
	}

	// The S3 rows go first: their decisions are in the log, so a wipe shows.
	for _, style := range []struct{ name, suffix string }{{"virtual-hosted", ""}, {"path-style", "-path"}} {
		text := "written " + style.name
		for _, op := range []struct {
			name, action string
			args         []string
		}{
			{"s3-put-" + style.name, "s3:PutObject", []string{"s3-put" + style.suffix, bucket, key, text}},
			{"s3-get-" + style.name, "s3:GetObject", []string{"s3-get" + style.suffix, bucket, key}},
		} {
			t.Run(op.name, func(t *testing.T) {
				since := lab.LastDecisionID(ctx, t)
				pod := podrun.IRSAPod(op.name, "app", lab.ProbeImage, roleARN, eks.Region)
				pod.Spec.Containers[0].Args = op.args
				res, err := podrun.Run(ctx, eks.CS, namespace, pod)
				require.NoError(t, err)
				ds := lab.DecisionsSince(ctx, t, since, op.action, "arn:aws:s3:::"+bucket+"/"+key)
				reason := "no decision logged"
				if len(ds) > 0 {
					reason = ds[len(ds)-1].Effect + ": " + ds[len(ds)-1].Reason
				}
				labenv.Row(t, labenv.Outcome{Suite: "trustboundary", Scenario: op.name, Mechanism: "S3 key under _idlab/",
					Expected: "allow", Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: reason})
				require.True(t, res.OK, "%s: %s", res.ErrorCode, res.ErrorMessage)
				require.NotEmpty(t, ds, "S3 decided %s", op.action)
				require.Equal(t, "Allow", ds[len(ds)-1].Effect)
				if op.action == "s3:GetObject" {
					require.Equal(t, text, res.Output)
				}
			})
		}
	}

	before, err := trustboundary.Read(ctx, get, issuer)
	require.NoError(t, err)
	require.NotEmpty(t, before.NewestDecision, "the S3 rows logged decisions")
	for _, tg := range trustboundary.Targets(eks.Region, bucket, lab.EmulatorIP) {
		for _, r := range trustboundary.Requests(issuer, account) {
			name := tg.ID + "-" + r.ID
			t.Run(name, func(t *testing.T) {
				args := []string{"http", r.Method, "https://" + tg.Host + r.Path}
				if r.Body != "" {
					args = append(args, r.Body)
				}
				pod := podrun.PlainPod(name, "app", lab.ProbeImage)
				pod.Spec.Containers[0].Args = args
				res, err := podrun.Run(ctx, eks.CS, namespace, pod)
				require.NoError(t, err)
				observed := res.Output // "STATUS CODE"; a failed call has only its error code
				if observed == "" {
					observed = res.ErrorCode
				}
				want := trustboundary.Expected(tg, r).String()
				labenv.Row(t, labenv.Outcome{Suite: "trustboundary", Scenario: name, Mechanism: "admin API on the cloud plane",
					Expected: want, Observed: observed, Reason: strings.TrimSpace(res.ErrorMessage)})
				require.Equal(t, want, observed, res.ErrorMessage)
				require.Equal(t, lab.EmulatorIP, res.Peer, "cluster DNS sends %s to the emulator", tg.Host)
			})
		}
	}
	changes, err := trustboundary.Changes(ctx, get, issuer, before)
	require.NoError(t, err)
	require.Empty(t, changes, "the pod's admin requests changed the lab")
}
