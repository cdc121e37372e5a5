//go:build e2e

package kube2iam

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/hostlocal"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

const (
	// issue215 is the thread the IP-reuse rows cite.
	issue215 = "jtblin/kube2iam#215"
	// podIndex is where upstream decides whose an IP is: an informer
	// index of active pods only, and the answer from that index alone.
	podIndex = "jtblin/kube2iam pod.go isPodActive and PodIPIndexFunc, k8s/k8s.go PodByIP (4c4a2b4b)"
	// reuseAttempts bounds the tries at giving the new pod the finished
	// pod's IP: a pod another suite creates on the node at that moment
	// takes it first.
	reuseAttempts = 3
)

// reuse is one arranged reuse of a finished pod's IP: the pods as the API
// server had them after the new one ran, their probes' results, when each
// started (wall clock and decision log), and how the IP was steered.
type reuse struct {
	ip                 string
	oldPod, newPod     *corev1.Pod
	oldRes, newRes     probe.Result
	oldStart, newStart time.Time
	oldSince, newSince int64
	steered            hostlocal.Steered
}

// ipReuse gives a new pod the IP of a pod that has finished (Succeeded,
// its IP still in its status) and has it ask kube2iam for credentials
// (jtblin/kube2iam#215, issue 19 item 15).
//
// The thread says less than the issue's summary: #215 ("Race condition
// with calico interfaces", 2019, closed with neither fix nor root cause)
// saw pods deleted and recreated quickly on a node get credentials of a
// role their annotation did not name; the reporter suspected calico's
// interfaces, kept pods off a node until its network was up, and wrote
// that kube2iam "still has various race conditions based on the design".
//
// Upstream's current code (4c4a2b4b) finds the caller by its IP in an
// informer index that holds active pods only (pod.go isPodActive: an IP,
// neither Succeeded nor Failed) and answers from that index alone (k8s.go
// PodByIP; mappings/mapper.go GetRoleMapping per request, no role kept
// per IP), as components/kube2iam does. Hence:
//   - once the watch has brought the old pod's end, the IP is the new
//     pod's alone and it gets its own role: this row, arranged
//     deterministically;
//   - while the index still holds the old pod as active and not yet the
//     new pod's IP, the new pod is served the old pod's role: #215's race,
//     still in upstream's design and kept by idlab (components/kube2iam
//     TestIPReuse, its last case). This row cannot open that window: the
//     IP is reused only after the API server has the old pod's end and
//     host-local has released the address, seconds before the new pod
//     exists, and kube2iam's watch brings the end in far less. The row
//     shows the settled case right, not the race gone.
//
// The arrangement (scenarios/kit/hostlocal): kube2iam restarted (an empty
// session cache, so STS sees each pod's AssumeRole under a session named
// after its IP); the old pod (idlab-kube2iam-other, kube2iam-other) runs
// to its end; once host-local has released its IP, the address before it
// is written as the node's last reserved one, and the new pod
// (idlab-kube2iam, kube2iam-app, pinned to that node) gets it next. A
// pod another suite starts on the node first takes it instead: then the
// pair is tried again, up to reuseAttempts times, and the test fails
// saying so.
//
// The test of the test: the old pod, while it ran at that IP, got
// kube2iam-other (kube2iam's Allow and STS's), so the IP really meant the
// other role; both STS sessions are named after the same IP. A kube2iam
// that indexed finished pods would refuse the new pod ("2 pods ...
// indexed"); one that kept a role per IP, as kube2iam's store did before
// 0.8.0 (jtblin/kube2iam#95, #92), would serve kube2iam-other.
func (e *env) ipReuse(ctx context.Context, t *testing.T) {
	var r reuse
	for attempt := 1; ; attempt++ {
		var ok bool
		if r, ok = e.arrangeReuse(ctx, t, attempt); ok {
			break
		}
		require.Less(t, attempt, reuseAttempts, "could not give a new pod a finished pod's IP in %d attempts: each time another pod on the node took it first (logged above)", reuseAttempts)
	}
	oldName, newName := r.oldPod.Namespace+"/"+r.oldPod.Name, r.newPod.Namespace+"/"+r.newPod.Name
	oldHash, _ := ipHashOf(r.oldRes.Arn)
	newHash, _ := ipHashOf(r.newRes.Arn)

	t.Run("old-pod-got-the-other-role-at-the-ip", func(t *testing.T) {
		ds := slices.DeleteFunc(e.proxyDecisions(ctx, t, r.ip, r.oldStart), func(d decision) bool { return d.Pod != oldName })
		stsDs := e.lab.DecisionsSince(ctx, t, r.oldSince, "sts:AssumeRole", otherRole)
		reason := "kube2iam logged no decision for " + oldName + " at " + r.ip
		if len(ds) > 0 {
			d := ds[len(ds)-1]
			reason = fmt.Sprintf("%s at %s while it ran: kube2iam %s %s", oldName, r.ip, d.Decision, d.Role)
		}
		if len(stsDs) > 0 {
			reason += "; STS " + stsDs[0].Effect + ": " + stsDs[0].Reason
		}
		labenv.Row(t, labenv.Outcome{Suite: suite, Scenario: "the finished pod got the other role at that IP while it ran (" + issue215 + ", test of the test)",
			Mechanism: mechanism, Expected: "allow: kube2iam-other", Observed: assumed(r.oldRes), Reason: reason + " [" + podIndex + "]"})
		require.True(t, r.oldRes.OK, "%s: %s (%s)", r.oldRes.ErrorCode, r.oldRes.ErrorMessage, r.oldRes.Output)
		require.True(t, strings.HasPrefix(r.oldRes.Arn, "arn:aws:sts::"+account+":assumed-role/kube2iam-other/"), r.oldRes.Arn)
		require.True(t, slices.ContainsFunc(ds, func(d decision) bool { return d.Decision == "Allow" && d.Role == otherRole }),
			"kube2iam allowed %s to the old pod at %s: %+v", otherRole, r.ip, ds)
		require.NotEmpty(t, stsDs, "the node assumed %s at STS for the old pod (kube2iam restarted: no cached session)", otherRole)
		require.Equal(t, "Allow", stsDs[0].Effect, stsDs[0].Reason)
		require.NotEmpty(t, oldHash, "kube2iam's session name starts with the hash of the pod's IP: %s", r.oldRes.Arn)
	})

	t.Run("new-pod-at-the-finished-pods-ip-gets-its-own-role", func(t *testing.T) {
		ds := e.proxyDecisions(ctx, t, r.ip, r.newStart)
		d, cerr := checkReuse(ds, r.newStart, newName, appRole, oldName, otherRole)
		stsApp := e.lab.DecisionsSince(ctx, t, r.newSince, "sts:AssumeRole", appRole)
		stsOther := e.lab.DecisionsSince(ctx, t, r.newSince, "sts:AssumeRole", otherRole)
		reason := fmt.Sprintf("%s at %s, the IP of %s (%s, the IP still in its status): ", newName, r.ip, oldName, r.oldPod.Status.Phase)
		if cerr != nil {
			reason += cerr.Error()
		} else {
			reason += "kube2iam " + d.Decision + " " + d.Role
		}
		if len(stsApp) > 0 {
			reason += "; STS " + stsApp[0].Effect + ": " + stsApp[0].Reason
		}
		reason += fmt.Sprintf("; STS AssumeRole of kube2iam-other meanwhile: %d; sessions %s and %s; %s", len(stsOther), oldHash, newHash, r.steered)
		labenv.Row(t, labenv.Outcome{Suite: suite, Scenario: "new pod on a finished pod's IP gets its own role (" + issue215 + ")",
			Mechanism: mechanism, Expected: "allow: kube2iam-app", Observed: assumed(r.newRes), Reason: reason + " [" + issue215 + "; " + podIndex + "]"})

		require.Equal(t, corev1.PodSucceeded, r.oldPod.Status.Phase, "the old pod had finished")
		require.Equal(t, r.ip, r.oldPod.Status.PodIP, "the finished pod still showed the IP")
		require.Equal(t, r.ip, r.newPod.Status.PodIP)
		require.True(t, r.newRes.OK, "%s: %s (%s)", r.newRes.ErrorCode, r.newRes.ErrorMessage, r.newRes.Output)
		require.True(t, strings.HasPrefix(r.newRes.Arn, "arn:aws:sts::"+account+":assumed-role/kube2iam-app/"), "the new pod got %s", r.newRes.Arn)
		require.NoError(t, cerr, "kube2iam's decisions about %s since the new pod started", r.ip)
		require.NotEmpty(t, stsApp, "the node assumed %s at STS for the new pod", appRole)
		require.Equal(t, "Allow", stsApp[0].Effect, stsApp[0].Reason)
		require.Empty(t, stsOther, "the node never assumed %s for the new pod", otherRole)
		require.Equal(t, oldHash, newHash, "both sessions are named after the same pod IP: %s and %s", r.oldRes.Arn, r.newRes.Arn)
	})
}

// arrangeReuse runs the old pod, makes its IP the next on its node once it
// has finished, and runs the new pod there; false when the new pod got
// another IP (the attempt's pods are deleted then).
func (e *env) arrangeReuse(ctx context.Context, t *testing.T, attempt int) (reuse, bool) {
	t.Helper()
	e.stopKube2iam(ctx, t)
	e.startKube2iam(ctx, t)
	pods := e.eks.CS.CoreV1()
	oldName, newName := fmt.Sprintf("ipreuse-old-%d", attempt), fmt.Sprintf("ipreuse-new-%d", attempt)
	var r reuse
	r.oldSince, r.oldStart = e.lab.LastDecisionID(ctx, t), time.Now()
	r.oldRes, r.ip = e.run(ctx, t, otherNS, oldName, "kube2iam-other")
	old := e.waitSucceeded(ctx, t, otherNS, oldName)
	require.NotEmpty(t, r.ip, "the old pod had an IP")
	require.Equal(t, r.ip, old.Status.PodIP, "a finished pod keeps its IP in its status")
	addr, err := netip.ParseAddr(r.ip)
	require.NoError(t, err)

	node := hostlocal.Node{Exec: func(ctx context.Context, args ...string) (string, error) {
		return harness.NodeExec(ctx, e.eks.Name, old.Spec.NodeName, args...)
	}}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	r.steered, err = node.Steer(sctx, addr)
	require.NoError(t, err, "make %s, the finished pod's IP, the next address host-local hands out on %s", r.ip, old.Spec.NodeName)
	t.Logf("attempt %d: %s", attempt, r.steered)

	p := e.imdsPod(newName, map[string]string{roleKey: "kube2iam-app"})
	p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: old.Spec.NodeName}
	r.newSince, r.newStart = e.lab.LastDecisionID(ctx, t), time.Now()
	var newIP string
	r.newRes, newIP = e.runPod(ctx, t, ns, p)
	if newIP != r.ip {
		t.Logf("attempt %d: the new pod got %s, not %s: another pod on %s took it first", attempt, newIP, r.ip, old.Spec.NodeName)
		zero := int64(0)
		require.NoError(t, pods.Pods(otherNS).Delete(ctx, oldName, metav1.DeleteOptions{GracePeriodSeconds: &zero}))
		require.NoError(t, pods.Pods(ns).Delete(ctx, newName, metav1.DeleteOptions{GracePeriodSeconds: &zero}))
		return reuse{}, false
	}
	r.oldPod, err = pods.Pods(otherNS).Get(ctx, oldName, metav1.GetOptions{})
	require.NoError(t, err)
	r.newPod, err = pods.Pods(ns).Get(ctx, newName, metav1.GetOptions{})
	require.NoError(t, err)
	return r, true
}

// waitSucceeded waits until the pod's phase is Succeeded (the probe ended
// and the kubelet reported it; podrun.Run may return as the container
// exits, before that).
func (e *env) waitSucceeded(ctx context.Context, t *testing.T, namespace, name string) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	require.Eventually(t, func() bool {
		got, err := e.eks.CS.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		p = got
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	}, time.Minute, 500*time.Millisecond, "pod %s/%s must finish", namespace, name)
	require.Equal(t, corev1.PodSucceeded, p.Status.Phase, "pod %s/%s: %s", namespace, name, p.Status.Message)
	return p
}
