//go:build e2e

// Package podidentity is the EKS Pod Identity suite: pods in the lab's eks
// cluster get credentials from the EKS Pod Identity Agent on their node,
// which trades their projected token (audience pods.eks.amazonaws.com) at
// the emulated EKS Auth with the node's instance role. The pod identity
// webhook injects the agent's address only for service accounts with an
// association (fixtures/eks). Each row states what the unmodified SDK in
// the pod gets and, for a refusal, the exact text the SDK reports and the
// emulator's decision. TestLabPodIdentityDenialsRestOnTheFixture
// (denials_test.go, run by make test) is the test of its deny rows, and
// TestLabAssociationRaceRestsOnTheFixture (race_fixture_test.go) that of
// the association race's cloud side (race_test.go).
package podidentity

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// account, ns, otherNS and appRole are in denials_test.go, shared with the
// suite's test of its tests.
const (
	region     = "us-west-2"
	clusterARN = "arn:aws:eks:us-west-2:" + account + ":cluster/eks"
	eksAuth    = "eks-auth:AssumeRoleForPodIdentity"
	mechanism  = "EKS Pod Identity"
	untrusted  = "arn:aws:iam::" + account + ":role/podid-untrusted"
)

// agentCode is the EKS Auth error code in the agent's text as the SDK
// reports it ("[REQUEST-ID]: (CODE): MESSAGE, fault: client"): the SDK has
// no code of its own for a text body.
func agentCode(r probe.Result) string {
	if r.OK {
		return ""
	}
	if _, rest, ok := strings.Cut(r.ErrorMessage, "]: ("); ok {
		code, _, _ := strings.Cut(rest, ")")
		return code
	}
	return r.ErrorCode
}

func TestEKSPodIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	eks := lab.Cluster(t, "eks")
	lab.Namespace(ctx, t, eks, ns, "app", "other", "untrusted")
	lab.Namespace(ctx, t, eks, otherNS, "app")

	tests := []struct {
		name      string
		namespace string
		sa        string
		// forced sends the pod to the agent though the webhook would not
		// (its service account has no association).
		forced bool
		args   []string
		// mutated: the webhook gave the pod the agent's address.
		mutated bool
		// wantArn prefixes the caller ARN; wantOutput is the object read.
		wantArn, wantOutput string
		// wantCode is the refusal's code; wantMessage the SDK's text after
		// the request ID.
		wantCode, wantMessage string
		// The decision: its action, resource, effect and part of its reason.
		action, resource, effect, reason string
	}{
		{name: "own-role", namespace: ns, sa: "app", mutated: true,
			wantArn: "arn:aws:sts::" + account + ":assumed-role/podid-app/eks-eks-own-role-",
			action:  eksAuth, resource: clusterARN, effect: "Allow"},
		{name: "own-bucket", namespace: ns, sa: "app", mutated: true, args: []string{"s3-get", "podid-data", "hello.txt"},
			wantOutput: "hello from podid-data",
			action:     "s3:GetObject", resource: "arn:aws:s3:::podid-data/hello.txt", effect: "Allow"},
		// The session tag kubernetes-namespace=idlab-podid fills the
		// policy's ${aws:PrincipalTag/kubernetes-namespace}.
		{name: "session-tag-own-prefix", namespace: ns, sa: "app", mutated: true, args: []string{"s3-get", "podid-shared", "idlab-podid/note.txt"},
			wantOutput: "idlab-podid's note",
			action:     "s3:GetObject", resource: "arn:aws:s3:::podid-shared/idlab-podid/note.txt", effect: "Allow"},
		{name: "session-tag-other-prefix", namespace: ns, sa: "app", mutated: true, args: []string{"s3-get", "podid-shared", "idlab-podid-other/note.txt"},
			wantCode: "AccessDenied",
			action:   "s3:GetObject", resource: "arn:aws:s3:::podid-shared/idlab-podid-other/note.txt", effect: "ImplicitDeny"},
		{name: "unassociated-sa-forced", namespace: ns, sa: "other", forced: true,
			wantCode:    "ResourceNotFoundException",
			wantMessage: ": (ResourceNotFoundException): No Pod Identity Association found for service account other in namespace idlab-podid of cluster eks., fault: client\n",
			action:      eksAuth, resource: clusterARN, effect: "Rejected", reason: "No Pod Identity Association found for service account other in namespace idlab-podid"},
		{name: "same-sa-other-namespace-forced", namespace: otherNS, sa: "app", forced: true,
			wantCode:    "ResourceNotFoundException",
			wantMessage: ": (ResourceNotFoundException): No Pod Identity Association found for service account app in namespace idlab-podid-other of cluster eks., fault: client\n",
			action:      eksAuth, resource: clusterARN, effect: "Rejected", reason: "No Pod Identity Association found for service account app in namespace idlab-podid-other"},
		{name: "role-without-pods-trust", namespace: ns, sa: "untrusted", mutated: true,
			wantCode:    "AccessDeniedException",
			wantMessage: ": (AccessDeniedException): EKS Pod Identity cannot assume role " + untrusted + ": its trust policy does not allow pods.eks.amazonaws.com to perform sts:AssumeRole., fault: client\n",
			action:      "sts:AssumeRole", resource: untrusted, effect: "ImplicitDeny", reason: "trust policy of " + untrusted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			since := lab.LastDecisionID(ctx, t)
			pod := podrun.PlainPod(tc.name, tc.sa, lab.ProbeImage)
			if tc.forced {
				pod = podrun.PodIdentityPod(tc.name, tc.sa, lab.ProbeImage, region)
			}
			if tc.args != nil {
				podrun.WithArgs(pod, tc.args...)
			}
			res, err := podrun.Run(ctx, eks.CS, tc.namespace, pod)
			require.NoError(t, err)
			requireMutation(ctx, t, eks, tc.namespace, tc.name, tc.mutated)

			ds := lab.DecisionsSince(ctx, t, since, tc.action, tc.resource)
			require.NotEmpty(t, ds, "the emulator must have logged a decision on %s %s", tc.action, tc.resource)
			d := ds[len(ds)-1]
			observed := labenv.Observed(res.OK, agentCode(res))
			labenv.Row(t, labenv.Outcome{Suite: "eks pod identity", Scenario: tc.name, Mechanism: mechanism,
				Expected: labenv.Observed(tc.wantCode == "", tc.wantCode), Observed: observed, Reason: d.Effect + ": " + d.Reason})
			require.Equal(t, tc.effect, d.Effect, d.Explanation())
			require.Contains(t, d.Reason, tc.reason)
			switch tc.action {
			case eksAuth:
				// The agent called with the node's instance role.
				require.Contains(t, d.Principal, ":assumed-role/eks-node/", d.Explanation())
			case "sts:AssumeRole":
				// EKS Auth assumes the role as the service principal.
				require.Equal(t, "pods.eks.amazonaws.com", d.Principal, d.Explanation())
			}
			if tc.wantCode == "" {
				require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
				if tc.wantArn != "" {
					require.True(t, strings.HasPrefix(res.Arn, tc.wantArn), res.Arn)
				}
				require.Equal(t, tc.wantOutput, res.Output)
				return
			}
			require.False(t, res.OK, "%s must be refused", tc.name)
			require.Equal(t, tc.wantCode, agentCode(res), res.ErrorMessage)
			if tc.wantMessage != "" {
				// The SDK reports the agent's text whole: "[REQUEST-ID]" then this.
				require.Empty(t, res.ErrorCode, "the SDK has no code for the agent's text body")
				require.True(t, strings.HasPrefix(res.ErrorMessage, "["+d.RequestID+"]"), "%s (decision request %s)", res.ErrorMessage, d.RequestID)
				require.Equal(t, tc.wantMessage, strings.TrimPrefix(res.ErrorMessage, "["+d.RequestID+"]"))
			}
			t.Logf("%s: %s", tc.wantCode, d.Explanation())
		})
	}

	// Without an association the webhook leaves the pod alone: the SDK
	// finds no credentials at all (IMDS is off in scenario pods) and EKS
	// Auth never hears of it. The webhook's admission line for the pod shows
	// it saw the pod and chose not to mutate it (an absent webhook, which
	// fails open, would leave it alone too).
	for _, c := range []struct{ name, namespace string }{{"unassociated-sa", ns}, {"same-sa-other-namespace", otherNS}} {
		t.Run(c.name, func(t *testing.T) {
			since, start := lab.LastDecisionID(ctx, t), time.Now()
			sa := map[string]string{ns: "other", otherNS: "app"}[c.namespace]
			res, err := podrun.Run(ctx, eks.CS, c.namespace, podrun.PlainPod(c.name, sa, lab.ProbeImage))
			require.NoError(t, err)
			requireMutation(ctx, t, eks, c.namespace, c.name, false)
			ds := lab.DecisionsSince(ctx, t, since, eksAuth, clusterARN)
			a, seen := eks.IRSAWebhookAdmission(ctx, t, c.namespace, c.name, start)
			labenv.Row(t, labenv.Outcome{Suite: "eks pod identity", Scenario: c.name + "-webhook", Mechanism: mechanism,
				Expected: "ClientError", Observed: labenv.Observed(res.OK, res.ErrorCode),
				Reason: labenv.AdmissionEvidence(a, seen) + fmt.Sprintf("; %d EKS Auth requests", len(ds))})
			require.True(t, seen, "the webhook saw the pod")
			require.False(t, a.Mutated, a.String())
			require.Contains(t, a.Reason, "service account has no pod identity association")
			require.False(t, res.OK, "got %s", res.Arn)
			require.Equal(t, "ClientError", res.ErrorCode)
			require.Contains(t, res.ErrorMessage, "failed to refresh cached credentials")
			require.Empty(t, ds, "EKS Auth must not have been asked")
		})
	}
}

// requireMutation checks what the webhook did to the pod: the agent's
// address, the eks-pod-identity-token volume and the pod-identity label, or
// none of them.
func requireMutation(ctx context.Context, t *testing.T, c *labenv.Cluster, namespace, name string, mutated bool) {
	t.Helper()
	p, err := c.CS.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	env := map[string]string{}
	for _, e := range p.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if !mutated {
		require.NotContains(t, p.Labels, "eks.amazonaws.com/pod-identity")
		return
	}
	require.Equal(t, "enabled", p.Labels["eks.amazonaws.com/pod-identity"])
	require.Equal(t, "http://169.254.170.23/v1/credentials", env["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
	require.Equal(t, "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token", env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"])
	require.Equal(t, region, env["AWS_REGION"])
}
