//go:build e2e

package azure

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/azurewebhook"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// webhookDownIssues are the threads the webhook-down rows reproduce.
// Azure/azure-workload-identity#790: pods of a cluster started again had
// no AZURE_* variables and crashed in azidentity; its thread puts it on
// the webhook's failurePolicy Ignore (v0.15.0 and before), and #540 is the
// same with the webhook at 0 replicas. Upstream made it Fail, with the
// label objectSelector, in #695 (v1.0.0), which the lab's webhook
// reproduces; openshift/hypershift#8288 (2026) turned its own
// registration back to Ignore so pods are not refused while the webhook
// starts.
const webhookDownIssues = "Azure/azure-workload-identity#790, #540; openshift/hypershift#8288"

// TestAzureWebhookDown: the Azure Workload Identity webhook is down (its
// Service has no ready endpoint) while a pod that asks for it is created.
// Under failurePolicy Fail the API server refuses the pod; under Ignore it
// admits it untouched, and azidentity in the pod cannot even build its
// credential. The lab's own webhook stays up for the other suites: the
// rows register upstream's configuration again, once per policy, for
// pods of downNS labelled downLabel, pointing at a Service with no
// endpoint (downConfig), and remove it when done. The message the issues
// quote, `no endpoints available for service "..."`, is what an API
// server with --enable-aggregator-routing answers (it resolves a Service
// to its endpoints, k8s.io/apiserver pkg/util/proxy ResolveEndpoint); a
// kind API server dials the Service's cluster IP, which kube-proxy
// refuses, so the rows expect "connect: connection refused"
// (downCallFailure). The decision log is kube-apiserver's own ("failing
// open" / "failing closed") and Entra's, which must never hear of the
// refused or unmutated pods. The test of the test is the third row: the
// same pod labelled for the lab's running webhook gets its token.
func TestAzureWebhookDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	aks := lab.Cluster(t, "aks")
	lab.Namespace(ctx, t, aks, downNS)
	_, err := aks.CS.CoreV1().ServiceAccounts(downNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Name: downSA, Annotations: map[string]string{clientID: appFixed}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	svc, err := aks.CS.CoreV1().Services(downNS).Create(ctx, downServiceObject(), metav1.CreateOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, svc.Spec.ClusterIP, "the webhook's Service has a cluster IP")
	failure := downCallFailure(svc.Spec.ClusterIP)

	ca, err := lab.CAPEM()
	require.NoError(t, err)
	cfgs := aks.CS.AdmissionregistrationV1().MutatingWebhookConfigurations()
	// Ignore first: the API server's webhook source lists every
	// configuration from one informer, so once it calls the Fail one,
	// created after, it has the Ignore one too.
	for _, p := range []admissionregistrationv1.FailurePolicyType{admissionregistrationv1.Ignore, admissionregistrationv1.Fail} {
		name := downConfigName(p)
		if err := cfgs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			require.NoError(t, err, "remove an earlier run's %s", name)
		}
		_, err := cfgs.Create(ctx, downConfig(ca, p), metav1.CreateOptions{})
		require.NoError(t, err)
		t.Cleanup(func() {
			cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
			defer ccancel()
			if err := cfgs.Delete(cctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete webhook configuration %s: %v", name, err)
			}
		})
	}
	waitDownWebhook(ctx, t, aks, lab.ProbeImage)

	pods := aks.CS.CoreV1().Pods(downNS)
	sub := "system:serviceaccount:" + downNS + ":" + downSA
	// failures counts kube-apiserver's log lines about the stand-ins
	// since a row began (each row reads its own few seconds of the log:
	// the runtime may rotate it over a long run).
	failures := func(t *testing.T, since time.Time) (open, closed int) {
		return webhookFailures(apiServerLog(ctx, t, aks, since), failure)
	}
	// grown reads the counts again until the one a row expects has grown
	// past its count before the row's pod (the container runtime writes
	// the log a moment after kube-apiserver does), for up to 20 s.
	grown := func(t *testing.T, since time.Time, open0, closed0 int, policy admissionregistrationv1.FailurePolicyType) (open, closed int) {
		for deadline := time.Now().Add(20 * time.Second); ; {
			open, closed = failures(t, since)
			if (policy == admissionregistrationv1.Ignore && open > open0) || (policy == admissionregistrationv1.Fail && closed > closed0) || time.Now().After(deadline) {
				return open, closed
			}
			time.Sleep(time.Second)
		}
	}

	t.Run("webhook-down-failure-policy-fail", func(t *testing.T) {
		since, start := lab.LastDecisionID(ctx, t), time.Now()
		open0, closed0 := failures(t, start)
		_, err := pods.Create(ctx, downPod("down-fail", lab.ProbeImage, admissionregistrationv1.Fail), metav1.CreateOptions{})
		open1, closed1 := grown(t, start, open0, closed0, admissionregistrationv1.Fail)
		observed, msg := "allow", "the pod was admitted"
		if err != nil {
			observed, msg = labenv.Observed(false, string(apierrors.ReasonForError(err))), err.Error()
		}
		labenv.Row(t, labenv.Outcome{Suite: "azure", Scenario: "webhook-down-failure-policy-fail", Mechanism: mech,
			Expected: string(metav1.StatusReasonInternalError), Observed: observed,
			Reason: fmt.Sprintf("kube-apiserver: %s (its log: %d more failing closed) [%s]", msg, closed1-closed0, webhookDownIssues)})
		require.Error(t, err, "a pod whose Fail webhook is down must be refused")
		require.True(t, apierrors.IsInternalError(err), "%T %v", err, err)
		var se apierrors.APIStatus
		require.ErrorAs(t, err, &se)
		require.Equal(t, int32(500), se.Status().Code)
		require.Equal(t, downRefusal(svc.Spec.ClusterIP), msg, "the API server's refusal")
		require.Greater(t, closed1, closed0, "kube-apiserver logged that it failed closed on the stand-in")
		require.Equal(t, open0, open1, "nothing failed open")
		_, err = pods.Get(ctx, "down-fail", metav1.GetOptions{})
		require.True(t, apierrors.IsNotFound(err), "the refused pod does not exist: %v", err)
		require.Empty(t, lab.DecisionsBy(ctx, t, since, entra.Service, sub, nil), "Entra must not have been asked")
	})

	t.Run("webhook-down-failure-policy-ignore", func(t *testing.T) {
		since, start := lab.LastDecisionID(ctx, t), time.Now()
		open0, closed0 := failures(t, start)
		res, err := podrun.Run(ctx, aks.CS, downNS, downPod("down-ignore", lab.ProbeImage, admissionregistrationv1.Ignore))
		require.NoError(t, err)
		open1, closed1 := grown(t, start, open0, closed0, admissionregistrationv1.Ignore)
		got, err := pods.Get(ctx, "down-ignore", metav1.GetOptions{})
		require.NoError(t, err)
		injected := azureInjection(got)
		labenv.Row(t, labenv.Outcome{Suite: "azure", Scenario: "webhook-down-failure-policy-ignore", Mechanism: mech,
			Expected: "ConfigError", Observed: labenv.Observed(res.OK, res.ErrorCode),
			Reason: fmt.Sprintf("kube-apiserver failed open (%d more in its log) and admitted the pod with %s; azidentity: %s [%s]",
				open1-open0, orNone(injected), res.ErrorMessage, webhookDownIssues)})
		require.Greater(t, open1, open0, "kube-apiserver logged that it failed open on the stand-in")
		require.Equal(t, closed0, closed1, "nothing failed closed")
		require.Empty(t, injected, "the pod was admitted unmutated")
		require.False(t, res.OK, "an unmutated pod must not get a token, got %q", res.Output)
		require.Equal(t, "ConfigError", res.ErrorCode, res.ErrorMessage)
		require.Equal(t, noClientID, res.ErrorMessage)
		require.Empty(t, lab.DecisionsBy(ctx, t, since, entra.Service, sub, nil), "Entra must not have been asked")
	})

	// The test of the test: the same pod labelled for the lab's running
	// webhook (upstream's label, which the stand-ins do not select) is
	// mutated and gets its token, so the rows above fail for the webhook
	// being down, not for the service account, its credential or the pod.
	t.Run("webhook-up", func(t *testing.T) {
		since, start := lab.LastDecisionID(ctx, t), time.Now()
		open0, closed0 := failures(t, start)
		pod := podrun.WithArgs(podrun.PlainPod("up", downSA, lab.ProbeImage), "az-token", storage)
		pod.Labels[useLabel] = "true"
		res, err := podrun.Run(ctx, aks.CS, downNS, pod)
		require.NoError(t, err)
		open1, closed1 := failures(t, start)
		got, err := pods.Get(ctx, "up", metav1.GetOptions{})
		require.NoError(t, err)
		tokens := lab.DecisionsBy(ctx, t, since, entra.Service, sub, nil)
		reason := res.ErrorMessage
		if len(tokens) > 0 {
			last := tokens[len(tokens)-1]
			reason = strings.TrimSpace("Entra " + last.Effect + " " + last.Code + " " + last.Reason)
		}
		labenv.Row(t, labenv.Outcome{Suite: "azure", Scenario: "webhook-up", Mechanism: mech,
			Expected: "allow", Observed: labenv.Observed(res.OK, res.ErrorCode),
			Reason: "the lab's webhook injected " + orNone(azureInjection(got)) + "; " + reason + " [" + webhookDownIssues + "]"})
		require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
		require.Equal(t, "aud=https://storage.azure.com appid="+appFixed+" tid="+tenant, res.Output)
		require.Contains(t, azureInjection(got), "AZURE_CLIENT_ID="+appFixed)
		require.NotEmpty(t, tokens, "Entra decided on %s", sub)
		require.True(t, tokens[len(tokens)-1].Allowed(), tokens[len(tokens)-1].Reason)
		require.Equal(t, appFixed, tokens[len(tokens)-1].Detail["clientId"])
		require.Equal(t, [2]int{open0, closed0}, [2]int{open1, closed1}, "the stand-ins were not called")
	})
}

// downPod is the probe asking for a storage token as downSA, labelled for
// the stand-in of failure policy p.
func downPod(name, image string, p admissionregistrationv1.FailurePolicyType) *corev1.Pod {
	pod := podrun.WithArgs(podrun.PlainPod(name, downSA, image), "az-token", storage)
	pod.Labels[downLabel] = string(p)
	return pod
}

// waitDownWebhook waits until the API server calls the Fail stand-in and
// its dial is refused: it has seen the configuration and kube-proxy
// refuses the Service's cluster IP. It asks with dry-run pod creations
// (the configuration's sideEffects None allows them), which create
// nothing; the rows check the refusal's exact text.
func waitDownWebhook(ctx context.Context, t *testing.T, c *labenv.Cluster, image string) {
	t.Helper()
	pods := c.CS.CoreV1().Pods(downNS)
	deadline := time.Now().Add(2 * time.Minute)
	last := ""
	for time.Now().Before(deadline) {
		_, err := pods.Create(ctx, downPod("ready-check", image, admissionregistrationv1.Fail), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil {
			last = "admitted: the API server does not call the stand-in yet"
		} else if last = err.Error(); strings.Contains(last, fmt.Sprintf("failed calling webhook %q", azurewebhook.WebhookName)) &&
			strings.Contains(last, downService+"."+downNS+".svc") && strings.HasSuffix(last, "connect: connection refused") {
			return
		}
		select {
		case <-ctx.Done():
			require.NoError(t, ctx.Err())
		case <-time.After(time.Second):
		}
	}
	require.Fail(t, "the API server never refused a pod of the Fail stand-in on a refused dial", "last answer: %s", last)
}

// apiServerLog is kube-apiserver's log since start (a second before, as
// the log's times are whole seconds).
func apiServerLog(ctx context.Context, t *testing.T, c *labenv.Cluster, start time.Time) []byte {
	t.Helper()
	list, err := c.CS.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "component=kube-apiserver"})
	require.NoError(t, err)
	require.NotEmpty(t, list.Items, "the kube-apiserver static pod of %s", c.Name)
	since := metav1.NewTime(start.Add(-time.Second))
	var out []byte
	for _, p := range list.Items {
		raw, err := c.CS.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: "kube-apiserver", SinceTime: &since}).DoRaw(ctx)
		require.NoError(t, err, "the log of %s/%s", p.Namespace, p.Name)
		out = append(out, raw...)
	}
	return out
}

// azureInjection lists what the Azure webhook would have put in the pod's
// probe container: its AZURE_* variables (NAME=value) and a projected
// token of audience api://AzureADTokenExchange ("token volume V").
func azureInjection(p *corev1.Pod) []string {
	var out []string
	for _, e := range p.Spec.Containers[0].Env {
		if strings.HasPrefix(e.Name, "AZURE_") {
			out = append(out, e.Name+"="+e.Value)
		}
	}
	for _, v := range p.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil && s.ServiceAccountToken.Audience == entra.DefaultFederatedAudience {
				out = append(out, "token volume "+v.Name)
			}
		}
	}
	return out
}

// orNone joins what a pod was given, or says "nothing".
func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}
