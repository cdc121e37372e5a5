//go:build e2e

package myappbug_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/explain"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

const (
	suite     = "my-app-bug"
	mechanism = "IRSA webhook (eks, awscli, imported role)"
	webID     = "sts:AssumeRoleWithWebIdentity"
)

// TestMyAppBug runs the user's Deployment in the running lab (make up) with
// their role imported as `idlab iam import` imports it: the pod's AWS CLI
// is refused by STS with AccessDenied and the lab's decision names the
// :sub condition; after UpdateAssumeRolePolicy with the fix, the same pod,
// never restarted, gets the role. Each outcome is a matrix row.
//
// The role (account 111122223333) is the example's own, so every web
// identity decision on it after the Deployment is applied is this pod's:
// awscli prints no request ID to match on, and none is needed.
func TestMyAppBug(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	require.NotEmpty(t, lab.PyClientImage, "the lab was brought up without the Python client image, which holds awscli (idlab up --pyclient; make up does)")
	eks := lab.Cluster(t, "eks")
	a := readApp(t)
	role, _ := iamFiles(t)
	bug := parseTrust(t, role.TrustPolicy)
	require.Equal(t, "https://"+bug.host, strings.TrimSuffix(lab.Clusters["eks"].IssuerURL, "/"),
		"the trust policy names the eks cluster's issuer (the default lab's; a lab file may name another)")

	// The user's role, provider and permission policy, as awscli printed
	// them; a rerun on the same lab puts the wrong trust policy back.
	lab.ImportIAM(ctx, t, roleFile, rolePolicyFile, providerFile)

	// The Deployment as it is, in a namespace labelled for the lab CA; its
	// image (amazon/aws-cli, which no registry serves here) is swapped for
	// the lab's image of Debian's awscli, which runs the same command.
	lab.AppNamespace(ctx, t, eks, a.namespace)
	require.Equal(t, 1, useImage(a.objs, a.image, lab.PyClientImage))
	since := lab.LastDecisionID(ctx, t)
	eks.Apply(ctx, t, a.namespace, a.objs...)
	pod, err := podrun.DeploymentPod(ctx, eks.CS, a.namespace, a.deployment, 4*time.Minute)
	require.NoError(t, err)

	refused := t.Run("sub-namespace-typo", func(t *testing.T) {
		log, err := podrun.WaitLog(ctx, eks.CS, a.namespace, pod.Name, a.container, 3*time.Minute,
			func(l string) bool { return len(calls(l)) > 0 })
		require.NoError(t, err)
		first := calls(log)[0]
		ds := lab.DecisionsSince(ctx, t, since, webID, a.roleARN)
		var deny harness.Decision
		if len(ds) > 0 {
			deny = ds[0]
		}
		labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: mechanism, Scenario: "sub names namespace payment, the pod runs in payments",
			Expected: "AccessDenied", Observed: labenv.Observed(first.ok, first.code), Reason: deny.Reason})
		require.Equal(t, "AccessDenied", first.code, "the pod's first call: %+v", first)
		require.Equal(t, "AssumeRoleWithWebIdentity", first.operation, "refused by STS, trading the pod's token")
		require.NotEmpty(t, ds, "the refusal is in the decision log")
		require.Equal(t, string(awsiam.ImplicitDeny), deny.Effect)
		var why strings.Builder
		require.NoError(t, explain.Chain(&why, deny))
		t.Logf("idlab explain %s:\n%s", deny.RequestID, why.String())
		require.Contains(t, why.String(), subMismatch(bug.host, bug.sub, a.subject())+": it does not hold")
	})
	// The fix's row claims the success came after the fix, which holds
	// only if every call before it was refused.
	require.True(t, refused, "the bug was not reproduced: the fix proves nothing")

	t.Run("sub-fixed-same-pod", func(t *testing.T) {
		pods := eks.CS.CoreV1().Pods(a.namespace)
		restarts := restartCount(ctx, t, pods, pod, a.container)
		// Every call so far was refused, so a success later in the log is
		// one after the fix.
		log, err := podrun.WaitLog(ctx, eks.CS, a.namespace, pod.Name, a.container, time.Minute, func(string) bool { return true })
		require.NoError(t, err)
		before := calls(log)
		for _, c := range before {
			require.False(t, c.ok, "a call before the fix got the role: %+v", c)
		}
		fixedAt := lab.LastDecisionID(ctx, t)
		_, err = lab.IAM(ctx, t, role.Account).UpdateAssumeRolePolicy(ctx,
			&iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(role.Name), PolicyDocument: aws.String(readFix(t))})
		require.NoError(t, err)
		// The app calls every 5 s.
		log, werr := podrun.WaitLog(ctx, eks.CS, a.namespace, pod.Name, a.container, 2*time.Minute, func(l string) bool {
			cs := calls(l)
			return len(cs) > len(before) && cs[len(cs)-1].ok
		})
		cs := calls(log)
		last := call{}
		if len(cs) > 0 {
			last = cs[len(cs)-1]
		}
		var allow harness.Decision
		for _, d := range lab.DecisionsSince(ctx, t, fixedAt, webID, a.roleARN) {
			if d.Effect == string(awsiam.Allow) {
				allow = d
			}
		}
		labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: mechanism, Scenario: "sub fixed with UpdateAssumeRolePolicy, same pod",
			Expected: "allow", Observed: labenv.Observed(last.ok, last.code), Reason: allow.Reason})
		require.NoError(t, werr)
		require.Contains(t, last.arn, ":assumed-role/"+role.Name+"/")
		require.Equal(t, string(awsiam.Allow), allow.Effect, "the allow is in the decision log")
		require.Equal(t, restarts, restartCount(ctx, t, pods, pod, a.container),
			"the same pod and container: the fix took effect without a restart")
	})
}

// useImage points the containers running image at the lab's image
// instead, which the node has (never pulled), and says how many it changed.
func useImage(objs []runtime.Object, image, labImage string) int {
	n := 0
	for _, o := range objs {
		d, ok := o.(*appsv1.Deployment)
		if !ok {
			continue
		}
		for i := range d.Spec.Template.Spec.Containers {
			if c := &d.Spec.Template.Spec.Containers[i]; c.Image == image {
				c.Image, c.ImagePullPolicy = labImage, corev1.PullNever
				n++
			}
		}
	}
	return n
}

// restartCount is how often container of pod has restarted; the pod must
// still be there, the same one (its UID).
func restartCount(ctx context.Context, t *testing.T, pods interface {
	Get(context.Context, string, metav1.GetOptions) (*corev1.Pod, error)
}, pod *corev1.Pod, container string) int32 {
	t.Helper()
	p, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
	require.NoError(t, err, "the pod is still there")
	require.Equal(t, pod.UID, p.UID, "the same pod, not a new one of the same name")
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == container {
			return s.RestartCount
		}
	}
	require.Failf(t, "no status", "pod %s has no container %s", pod.Name, container)
	return 0
}
