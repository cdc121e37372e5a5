//go:build e2e

package kube2iam

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

const (
	defaultRoleName = "kube2iam-default"
	defaultRole     = base + defaultRoleName
	// issue46 is what the default-role rows cite: jtblin/kube2iam#46 (2017)
	// saw annotated pods get the default role when they asked before
	// kube2iam's store had them; its thread and #80 and #100 put it on
	// the store's fallback for an unknown IP. The IndexInformer rewrite
	// (c5ef1ec, PR #92, release 0.8.0) made an unknown IP an error retried
	// with backoff and kept the default role for a pod found without the
	// annotation (mappings/mapper.go extractRoleARN at 4c4a2b4), which
	// components/kube2iam follows (TestDefaultRoleOnlyForAKnownPod).
	issue46 = "jtblin/kube2iam#46"
)

// defaultRole runs kube2iam with --default-role=kube2iam-default for two
// rows and puts its arguments back: an annotated pod asking as it starts
// gets its own role, not the default (the bug of #46, fixed upstream since
// 0.8.0 and absent here), and, the test of the test, an unannotated pod
// in the same namespace gets the default role, so the flag was in force
// and the first pod would have shown it. Each row is checked from the
// pod's caller ARN, kube2iam's decision log (every decision about the
// pod's IP names the role it got) and IAM's (the node's AssumeRole of
// that role, and none of the other).
func (e *env) defaultRole(ctx context.Context, t *testing.T) {
	e.setDefaultRole(ctx, t, defaultRoleName)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		e.setDefaultRole(cctx, t, "")
	})
	for _, tc := range []struct {
		name, scenario, annotation, want, not string
	}{
		{name: "annotated-pod-at-start", scenario: "annotated pod asking at start with --default-role gets its own role (" + issue46 + ")",
			annotation: "kube2iam-app", want: appRole, not: defaultRole},
		{name: "unannotated-pod-gets-the-default-role", scenario: "unannotated pod with --default-role gets the default role (" + issue46 + ", test of the test)",
			want: defaultRole, not: appRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			since, start := e.lab.LastDecisionID(ctx, t), time.Now()
			res, ip := e.run(ctx, t, ns, "default-role-"+strings.TrimSuffix(tc.name, "-gets-the-default-role"), tc.annotation)
			ds := e.proxyDecisions(ctx, t, ip, start)
			wanted := e.lab.DecisionsSince(ctx, t, since, "sts:AssumeRole", tc.want)
			other := e.lab.DecisionsSince(ctx, t, since, "sts:AssumeRole", tc.not)
			reason := "kube2iam logged no decision for " + ip
			if len(ds) > 0 {
				d := ds[len(ds)-1]
				reason = "kube2iam " + d.Decision + ": " + d.Role + " for " + d.Pod
			}
			if len(wanted) > 0 {
				reason += "; STS " + wanted[len(wanted)-1].Effect + ": " + wanted[len(wanted)-1].Reason
			}
			labenv.Row(t, labenv.Outcome{Suite: suite, Scenario: tc.scenario, Mechanism: mechanism,
				Expected: "allow: " + roleName(tc.want), Observed: assumed(res), Reason: reason + " [" + issue46 + "]"})

			require.True(t, res.OK, "%s: %s (%s)", res.ErrorCode, res.ErrorMessage, res.Output)
			require.True(t, strings.HasPrefix(res.Arn, "arn:aws:sts::"+account+":assumed-role/"+roleName(tc.want)+"/"), res.Arn)
			require.NotEmpty(t, ds, "kube2iam must have logged a decision for %s", ip)
			for _, d := range ds {
				if d.Role != "" {
					require.Equal(t, tc.want, d.Role, "every decision about the pod names its role: %+v", d)
				}
			}
			require.True(t, slices.ContainsFunc(ds, func(d decision) bool { return d.Decision == "Allow" && d.Role == tc.want }),
				"kube2iam allowed %s: %+v", tc.want, ds)
			require.NotEmpty(t, wanted, "the node assumed %s at STS (the proxy restarted with the flag: no cached session)", tc.want)
			require.Equal(t, "Allow", wanted[len(wanted)-1].Effect)
			require.Empty(t, other, "the node never assumed %s for this pod", tc.not)
		})
	}
}

// setDefaultRole gives kube2iam --default-role=role ("" for none: the
// lab's deployment) and waits until every proxy runs with it.
func (e *env) setDefaultRole(ctx context.Context, t *testing.T, role string) {
	t.Helper()
	dss := e.eks.CS.AppsV1().DaemonSets(harness.SystemNamespace)
	var args []string
	changed := false
	// The DaemonSet controller writes its status meanwhile: read and
	// write again on a conflict.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := dss.Get(ctx, "kube2iam", metav1.GetOptions{})
		if err != nil {
			return err
		}
		i := slices.IndexFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == "kube2iam" })
		if i < 0 {
			return errors.New("kube2iam's DaemonSet has no kube2iam container")
		}
		c := &d.Spec.Template.Spec.Containers[i]
		args = withDefaultRole(c.Args, role)
		if changed = !slices.Equal(args, c.Args); !changed {
			return nil
		}
		c.Args = args
		_, err = dss.Update(ctx, d, metav1.UpdateOptions{})
		return err
	})
	require.NoError(t, err)
	if !changed {
		return
	}
	e.waitKube2iam(ctx, t)
	// The DaemonSet's status may count a pod of the old template that is
	// going: wait until the only proxies are ready ones with the new
	// arguments.
	require.Eventually(t, func() bool {
		pods, err := e.eks.CS.CoreV1().Pods(harness.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=kube2iam"})
		if err != nil || len(pods.Items) == 0 {
			return false
		}
		for _, p := range pods.Items {
			j := slices.IndexFunc(p.Spec.Containers, func(c corev1.Container) bool { return c.Name == "kube2iam" })
			if p.DeletionTimestamp != nil || j < 0 || !slices.Equal(p.Spec.Containers[j].Args, args) || !podReady(p) {
				return false
			}
		}
		return true
	}, 2*time.Minute, time.Second, "kube2iam must run with %v", args)
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// roleName is the name of a role ARN.
func roleName(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

// assumed is what a probe result shows: "allow: ROLE" with the role of its
// assumed-role ARN, or its error code.
func assumed(res probe.Result) string {
	if !res.OK {
		return labenv.Observed(false, res.ErrorCode)
	}
	_, rest, _ := strings.Cut(res.Arn, ":assumed-role/")
	name, _, _ := strings.Cut(rest, "/")
	return "allow: " + name
}
