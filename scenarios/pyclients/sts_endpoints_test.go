//go:build e2e

package pyclients

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/pyprobe"
)

// TestPythonClientsSTSEndpoints: which STS host Debian's Python clients
// call, with and without AWS_STS_REGIONAL_ENDPOINTS=regional, and what
// fails when only the regional endpoint is reachable (the pod's
// sts.amazonaws.com points at 127.0.0.1, as in a private cluster whose STS
// VPC endpoint is regional). The pods are IRSA pods of py-app with the
// webhook's variables, AWS_STS_REGIONAL_ENDPOINTS set or dropped.
//
//   - boto3 (python3-boto3 1.26.27, botocore 1.29.27 in bookworm, whose
//     sts_regional_endpoints defaults to "legacy": configprovider.py;
//     botocore moved to "regional" only in 1.40 and CLI v1 1.42, see
//     aws/aws-cli#9634): the app points its own STS client at the regional
//     endpoint (endpoint_url), as boto3#2258's reporter did, but the
//     credential chain makes its own client for AssumeRoleWithWebIdentity
//     and, in us-west-2 under "legacy", calls sts.amazonaws.com: with that
//     host unreachable the call fails (EndpointConnectionError) and STS
//     never hears of the pod. With AWS_STS_REGIONAL_ENDPOINTS=regional it
//     calls sts.us-west-2.amazonaws.com and works; with the global host
//     reachable the row shows both hosts. (Measured with Debian's botocore
//     1.29.27 before writing the rows: the chain's request goes to
//     sts.amazonaws.com unset, to sts.us-west-2.amazonaws.com with
//     "regional".)
//   - awscli (Debian's 2.9.19, AWS CLI v2): v2 always resolves the
//     regional endpoint (its endpoint ruleset's AWS::STS::UseGlobalEndpoint
//     is false, and it reads no AWS_STS_REGIONAL_ENDPOINTS: measured with
//     the package's own botocore, unset, "regional" and "legacy" all call
//     sts.us-west-2.amazonaws.com), so every awscli row works.
//     aws/aws-cli#8697 is AWS CLI v1 (1.18.69) sending
//     assume-role-with-web-identity to the global endpoint whatever
//     --region says; Debian's v2 does not reproduce it, and the rows say so.
func TestPythonClientsSTSEndpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab, eks := pyclientLab(t)
	probeNamespace(ctx, t, lab, eks, ns, "app")
	const regionalURL = "https://sts." + region + ".amazonaws.com"
	const global, regionalHost = "sts.amazonaws.com", "sts." + region + ".amazonaws.com"
	unreachableGlobal := []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{global}}}

	tests := []struct {
		name, client, issue string
		env                 string // AWS_STS_REGIONAL_ENDPOINTS; "" drops it
		endpointURL         string // the app's own STS client's endpoint
		hostAliases         []corev1.HostAlias
		wantHosts           string
		wantCode            string
	}{
		{name: "boto3-sts-global-by-default", client: pyprobe.Boto3, issue: "boto/boto3#2258", endpointURL: regionalURL, hostAliases: unreachableGlobal,
			wantHosts: global, wantCode: "EndpointConnectionError"},
		{name: "boto3-sts-regional-env", client: pyprobe.Boto3, issue: "boto/boto3#2258", env: "regional", endpointURL: regionalURL, hostAliases: unreachableGlobal,
			wantHosts: regionalHost},
		{name: "boto3-sts-global-reachable", client: pyprobe.Boto3, issue: "boto/boto3#2258", endpointURL: regionalURL,
			wantHosts: global + "," + regionalHost},
		{name: "awscli-sts-without-env", client: pyprobe.AWSCLI, issue: "aws/aws-cli#8697", hostAliases: unreachableGlobal, wantHosts: regionalHost},
		{name: "awscli-sts-legacy-env", client: pyprobe.AWSCLI, issue: "aws/aws-cli#8697", env: "legacy", hostAliases: unreachableGlobal, wantHosts: regionalHost},
		{name: "awscli-sts-regional-env", client: pyprobe.AWSCLI, issue: "aws/aws-cli#8697", env: "regional", hostAliases: unreachableGlobal, wantHosts: regionalHost},
	}
	t.Run("identity-bugs", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				since := lab.LastDecisionID(ctx, t)
				pod := podrun.IRSAPod(tc.name, "app", lab.PyClientImage, pyRole, region)
				if tc.env == "" {
					podrun.WithoutEnv(pod, "AWS_STS_REGIONAL_ENDPOINTS")
				} else {
					podrun.WithEnv(pod, "AWS_STS_REGIONAL_ENDPOINTS", tc.env)
				}
				pod.Spec.HostAliases = tc.hostAliases
				pyprobe.Use(pod, tc.client, pyprobe.STSHostsArgs(tc.endpointURL)...)
				res, err := podrun.Run(ctx, eks.CS, ns, pod)
				require.NoError(t, err)
				ds := lab.DecisionsSince(ctx, t, since, stsAction, pyRole)
				reason := "AWS_STS_REGIONAL_ENDPOINTS=" + tc.env
				if tc.endpointURL != "" {
					reason += " endpoint_url=" + tc.endpointURL
				}
				if tc.hostAliases != nil {
					reason += " (" + global + " unreachable)"
				}
				reason += ": " + res.Output
				if !res.OK {
					reason += ": " + res.ErrorMessage
				}
				labenv.Row(t, labenv.Outcome{Suite: "python clients", Scenario: tc.name, Mechanism: "IRSA (" + tc.client + ")",
					Expected: expected(tc.wantCode), Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: reason + " [" + tc.issue + "]"})
				require.Equal(t, "hosts="+tc.wantHosts, res.Output, "the hosts the client sent requests to")
				if tc.wantCode != "" {
					require.False(t, res.OK, "must fail, got %s", res.Arn)
					require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
					require.Equal(t, `Could not connect to the endpoint URL: "https://`+global+`/"`, res.ErrorMessage)
					require.Empty(t, ds, "STS never heard of the pod")
					return
				}
				require.True(t, res.OK, "%s: %s", res.ErrorCode, res.ErrorMessage)
				require.True(t, strings.HasPrefix(res.Arn, "arn:aws:sts::"+account+":assumed-role/py-app/"), res.Arn)
				require.NotEmpty(t, ds)
				require.Equal(t, "Allow", ds[len(ds)-1].Effect, ds[len(ds)-1].Explanation())
			})
		}
	})
}
