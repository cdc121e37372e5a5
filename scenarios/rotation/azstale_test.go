//go:build e2e

package rotation

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/azurewebhook"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// azStaleSeconds is the lifetime of the stale row's projected token: the
// Kubernetes minimum. The Azure webhook's own token lives at least 3600 s,
// an hour and five minutes of wall time before Entra would refuse it, so
// the pod brings its own token volume and names its file in
// AZURE_FEDERATED_TOKEN_FILE, which the webhook never overrides (it adds
// its own volume beside, unused).
const azStaleSeconds = 600

// azStaleDir is where the row's own token volume is mounted.
const azStaleDir = "/var/run/idlab/az-stale"

// staleFederatedToken: in the aks cluster, one pod runs two clients of the
// same service account side by side every 30 s (probe az-stale), each
// asking Entra for a token with a claims challenge so that every round
// presents an assertion: one that read AZURE_FEDERATED_TOKEN_FILE once and
// azidentity's WorkloadIdentityCredential, which re-reads it once its copy
// is 10 minutes old. The kubelet renews the 600 s token at about 80% of its
// life; Entra takes an assertion until 5 minutes past its exp, so the
// read-once client is refused with AADSTS700024 "Client assertion is not
// within its valid time range", while azidentity presents the renewed
// token and is let in. Two rows, one pod.
//
// Entra checks this app's assertions azStaleAhead (4 minutes) ahead of the
// lab clock (the lab's ?ahead=4m&app=ID, entra.Handler.SetAssertionClock),
// so the refusal comes about 60 s past exp rather than 300 s and the rows
// take about 12 minutes rather than 16; the refusal's "Current time" is
// the app's, past exp + 5 minutes. azidentity presents the first token
// until about 600 s after iat, 60 s inside the leeway by the app's clock.
//
// Reproduces Azure/azure-workload-identity#693 (the maintainers: the client
// "hasn't re-read the file from the filesystem"; the reporter's old
// @azure/identity) and risingwavelabs/risingwave#17123 (reqsign, like
// azure_identity for Rust 0.20, read the token once).
func (e *env) staleFederatedToken(ctx context.Context, t *testing.T) {
	start := time.Now()
	const sa = "az-stale"
	aks := e.lab.Cluster(t, "aks")
	e.lab.Namespace(ctx, t, aks, ns)
	_, err := aks.CS.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa,
		Annotations: map[string]string{azurewebhook.ClientIDAnnotation: azStaleApp}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	e.setClock(ctx, t, "ahead", azStaleAhead, "app", azStaleApp)
	since := e.lab.LastDecisionID(ctx, t)
	pod := podrun.WithArgs(podrun.PlainPod(sa, sa, e.lab.ProbeImage), "az-stale", "1140", "30")
	pod.Labels = map[string]string{azurewebhook.UseLabel: "true"}
	exp := int64(azStaleSeconds)
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "az-stale-token", VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
			Audience: azurewebhook.DefaultAudience, ExpirationSeconds: &exp, Path: "token"}}}}}})
	pod.Spec.Containers[0].VolumeMounts = append(pod.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "az-stale-token", MountPath: azStaleDir, ReadOnly: true})
	podrun.WithEnv(pod, azurewebhook.FederatedTokenFileEnv, azStaleDir+"/token")
	res, out, err := podrun.RunWithin(ctx, aks.CS, ns, pod, 19*time.Minute)
	require.NoError(t, err)
	calls, err := probe.ParseCalls(out)
	require.NoError(t, err)
	require.NotEmpty(t, calls, "the probe made no call: %s", out)

	// Entra's decisions on this service account, by trace ID.
	sub := "system:serviceaccount:" + ns + ":" + sa
	decided := map[string]harness.Decision{}
	for _, d := range e.lab.DecisionsBy(ctx, t, since, entra.Service, sub, nil) {
		decided[d.RequestID] = d
	}
	var first probe.TokenInfo
	var refused *probe.Call
	wiTokens := map[string]bool{}
	wiFailed, wiAfter := 0, 0
	for i := range calls {
		c := &calls[i]
		if i == 0 && c.Token != nil {
			first = *c.Token
		}
		switch c.Op {
		case "read-once":
			if !c.OK && refused == nil {
				refused = c
			}
		case "azidentity":
			if c.Token != nil {
				wiTokens[c.Token.ID] = true
			}
			if !c.OK {
				wiFailed++
			} else if refused != nil {
				wiAfter++
			}
		}
	}
	var refusal harness.Decision
	onceObserved, onceReason := "allow", "the read-once client was never refused"
	if refused != nil {
		refusal = decided[refused.RequestID]
		onceObserved = labenv.Observed(false, refused.ErrorCode)
		onceReason = fmt.Sprintf("%s: %s; refused %d s after the token's exp (Entra's clock for the app %s ahead)", refusal.Code, refusal.Reason,
			refused.At.Unix()-first.Expiry, azStaleAhead)
	}
	elapsed := took(start)
	labenv.Row(t, labenv.Outcome{Suite: suiteName, Tier: labenv.Slow, Scenario: "federated token read once, presented after expiry (Azure/azure-workload-identity#693)",
		Mechanism: "Azure Workload Identity (aks)", Expected: expected("AADSTS700024"), Observed: onceObserved, Reason: onceReason + "; took " + elapsed})
	wiReason := fmt.Sprintf("azidentity presented %d tokens, %d calls failed, %d let in after the read-once client's refusal; took %s", len(wiTokens), wiFailed, wiAfter, elapsed)
	labenv.Row(t, labenv.Outcome{Suite: suiteName, Tier: labenv.Slow, Scenario: "azidentity re-reads the federated token file across the kubelet's renewal",
		Mechanism: "Azure Workload Identity (aks)", Expected: "allow",
		Observed: labenv.Observed(wiFailed == 0 && wiAfter > 0 && len(wiTokens) >= 2, "not let in after the refusal"), Reason: wiReason})
	t.Logf("%s; %s; %s", onceReason, wiReason, res.Output)

	require.NotNil(t, refused, "the read-once client must be refused once its token expired: %s", res.Output)
	require.Equal(t, "AADSTS700024", refused.ErrorCode, refused.ErrorMessage)
	require.NotNil(t, refused.Token, "the token the read-once client presented")
	require.Equal(t, first.ID, refused.Token.ID, "it presented the token it read at start")
	require.NotNil(t, refused.FileToken, "the token then in the file")
	require.NotEqual(t, first.ID, refused.FileToken.ID, "the file held the kubelet's new token")
	require.EqualValues(t, azStaleSeconds, first.Expiry-first.IssuedAt, "the pod's own 600 s token")
	require.GreaterOrEqual(t, refused.At.Unix(), first.Expiry+int64((5*time.Minute-azStaleAhead).Seconds())-1, "refused only past exp + Entra's 5 minutes, by the app's clock")
	require.Equal(t, "AADSTS700024", refusal.Code, "Entra's decision on the refused call")
	require.True(t, strings.HasPrefix(refusal.Reason, "Client assertion is not within its valid time range."), refusal.Reason)
	m := regexp.MustCompile(`Current time: (\S+?Z),`).FindStringSubmatch(refusal.Reason)
	require.Len(t, m, 2, refusal.Reason)
	entraNow, err := time.Parse(time.RFC3339Nano, m[1])
	require.NoError(t, err)
	require.GreaterOrEqual(t, entraNow.Unix(), first.Expiry+int64((5*time.Minute).Seconds()), "Entra's time for the app is past exp + 5 minutes")
	require.InDelta(t, azStaleAhead.Seconds(), entraNow.Sub(refused.At).Seconds(), 5, "and the app's clock is %s ahead", azStaleAhead)
	require.Zero(t, wiFailed, "azidentity is never refused")
	require.Positive(t, wiAfter, "azidentity is let in after the read-once client's refusal")
	require.GreaterOrEqual(t, len(wiTokens), 2, "azidentity presented the renewed token")
	for _, c := range calls {
		if c.Op == "azidentity" {
			d, ok := decided[c.RequestID]
			require.True(t, ok, "Entra decided on azidentity's call %s", c.RequestID)
			require.True(t, d.Allowed(), d.Reason)
		}
	}
}
