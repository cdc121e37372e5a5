package podrun

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestIRSAPod(t *testing.T) {
	p := IRSAPod("p", "app-a", "idlab/probe:x", "arn:aws:iam::1:role/r", "us-west-2")
	require.Equal(t, "sts.amazonaws.com", p.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken.Audience)
	require.Equal(t, corev1.PullNever, p.Spec.Containers[0].ImagePullPolicy)
	env := map[string]string{}
	for _, e := range p.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	require.Equal(t, "/var/run/secrets/eks.amazonaws.com/serviceaccount/token", env["AWS_WEB_IDENTITY_TOKEN_FILE"])
	require.Equal(t, "arn:aws:iam::1:role/r", env["AWS_ROLE_ARN"])
	require.Equal(t, "/etc/idlab/ca.pem", env["AWS_CA_BUNDLE"])
}

func TestWithAudienceAndArgs(t *testing.T) {
	p := WithArgs(WithAudience(IRSAPod("p", "app-a", "idlab/probe:x", "arn:aws:iam::1:role/r", "us-west-2"), "sts.amazonaws.co"), "s3-get", "b", "k")
	require.Equal(t, "sts.amazonaws.co", p.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken.Audience)
	require.Equal(t, []string{"s3-get", "b", "k"}, p.Spec.Containers[0].Args)
}

func envOf(p *corev1.Pod) map[string]string {
	env := map[string]string{}
	for _, e := range p.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	return env
}

func TestWithTokenSecret(t *testing.T) {
	p := WithTokenSecret(IRSAPod("p", "app", "idlab/probe:x", "arn:aws:iam::1:role/r", "us-west-2"), "tok", "AWS_WEB_IDENTITY_TOKEN_FILE")
	require.Equal(t, "/var/run/idlab/token/token", envOf(p)["AWS_WEB_IDENTITY_TOKEN_FILE"])
	n := 0
	for _, e := range p.Spec.Containers[0].Env {
		if e.Name == "AWS_WEB_IDENTITY_TOKEN_FILE" {
			n++
		}
	}
	require.Equal(t, 1, n, "the variable is replaced, not added twice")
	var names []string
	for _, v := range p.Spec.Volumes {
		names = append(names, v.Name)
	}
	require.Equal(t, []string{"aws-iam-token", "idlab-ca", "idlab-token"}, names)
	require.Equal(t, "tok", p.Spec.Volumes[2].Secret.SecretName)
	var mounts []string
	for _, m := range p.Spec.Containers[0].VolumeMounts {
		mounts = append(mounts, m.Name+"="+m.MountPath)
	}
	require.Equal(t, []string{"aws-iam-token=/var/run/secrets/eks.amazonaws.com/serviceaccount", "idlab-ca=/etc/idlab", "idlab-token=/var/run/idlab/token"}, mounts)
}

func TestWithEnv(t *testing.T) {
	p := PlainPod("p", "app", "idlab/probe:x")
	WithEnv(p, "A", "1")
	WithEnv(p, "A", "2")
	WithEnv(p, "B", "3")
	require.Equal(t, "2", envOf(p)["A"])
	require.Equal(t, "3", envOf(p)["B"])
	WithoutEnv(p, "A")
	require.NotContains(t, envOf(p), "A")
	require.Equal(t, "3", envOf(p)["B"])
	require.Equal(t, "/etc/idlab/ca.pem", envOf(p)["AWS_CA_BUNDLE"], "the others stay")
}

// TestRunDeletesAPodThatDidNotFinish: a pod still pending at the deadline
// is deleted, so that it cannot act in a later row's window.
func TestRunDeletesAPodThatDidNotFinish(t *testing.T) {
	cs := fake.NewClientset() // the fake never runs the pod: it stays Pending
	_, _, err := RunWithin(t.Context(), cs, "ns", PlainPod("stuck", "app", "probe"), 1500*time.Millisecond)
	require.ErrorContains(t, err, "pod ns/stuck still")
	require.ErrorContains(t, err, "(deleted)")
	_, err = cs.CoreV1().Pods("ns").Get(t.Context(), "stuck", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "the pod must be gone: %v", err)
}

// TestRunLogReturnsTheProbeContainersLog: once the pod has finished, the
// probe container's log comes back as it is (the fake's log is its
// constant text).
func TestRunLogReturnsTheProbeContainersLog(t *testing.T) {
	cs := fake.NewClientset()
	p := PlainPod("done", "app", "tool")
	p.Status.Phase = corev1.PodSucceeded
	log, err := RunLog(t.Context(), cs, "ns", p, time.Minute)
	require.NoError(t, err)
	require.Equal(t, "fake logs", log)
	_, err = RunLog(t.Context(), fake.NewClientset(), "ns", PlainPod("stuck", "app", "tool"), 1500*time.Millisecond)
	require.ErrorContains(t, err, "pod ns/stuck still")
}

// TestDescribe: a timeout names the node and IP, and each init container
// and container with its state, restarts and last termination, so that an
// init container failing in a loop (the pod stuck in PodInitializing) is
// named with its exit.
func TestDescribe(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 12, 7, 13, 5, 9, 0, time.UTC))
	crash := corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, FinishedAt: at, Message: "boom"}
	for _, tc := range []struct {
		name string
		pod  corev1.Pod
		want []string
	}{
		{"unscheduled", corev1.Pod{}, []string{"node none, IP none;"}},
		{"init crash loop", corev1.Pod{
			Spec: corev1.PodSpec{NodeName: "gke-control-plane"},
			Status: corev1.PodStatus{PodIP: "10.244.0.9",
				Conditions: []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionFalse, Message: "containers with incomplete status: [gen]"}},
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "gen", RestartCount: 3,
					State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s"}},
					LastTerminationState: corev1.ContainerState{Terminated: &crash}}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "probe",
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}},
			}},
			[]string{"node gke-control-plane, IP 10.244.0.9;", "Initialized=False(containers with incomplete status: [gen])",
				"init gen waiting: CrashLoopBackOff back-off 40s, 3 restarts, last Error exit 1 at 13:05:09 (boom);",
				"probe waiting: PodInitializing"}},
		{"running and terminated", corev1.Pod{Status: corev1.PodStatus{
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "gen", State: corev1.ContainerState{Terminated: &crash}}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "probe",
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at}}}},
		}}, []string{"init gen terminated: Error exit 1 at 13:05:09 (boom);", "probe running since 13:05:09;"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := describe(&tc.pod)
			for _, w := range tc.want {
				require.Contains(t, got, w)
			}
		})
	}
}

// TestFailedInitLogs: only init containers that failed have their log
// read (the fake's log is its constant text); one that succeeded or never
// ran is not named.
func TestFailedInitLogs(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Status: corev1.PodStatus{
		InitContainerStatuses: []corev1.ContainerStatus{
			{Name: "ok", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
			{Name: "looping", RestartCount: 2, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			{Name: "failed", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2}}},
			{Name: "waiting", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}},
		}}}
	got := failedInitLogs(t.Context(), fake.NewClientset(), p)
	require.Equal(t, `; init looping log: "fake logs"; init failed log: "fake logs"`, got)
}

// TestCreateWaitsOutALabWebhook: the API server's refusal for a lab
// webhook it cannot reach is tried again until it passes or the wait
// ends; a refusal for any other webhook (the webhook-down rows' stand-in
// in their own namespace) or any other error is returned at once.
func TestCreateWaitsOutALabWebhook(t *testing.T) {
	lab := `Internal error occurred: failed calling webhook "mutation.azure-workload-identity.io": failed to call webhook: Post "https://azure-wi-webhook-controller-manager.idlab-system.svc:443/mutate-v1-pod?timeout=10s": dial tcp 10.96.137.176:443: connect: connection refused`
	noEndpoints := `Internal error occurred: failed calling webhook "pod-identity-webhook.amazonaws.com": failed to call webhook: Post "https://pod-identity-webhook.idlab-system.svc:443/mutate?timeout=10s": no endpoints available for service "pod-identity-webhook"`
	stand := `Internal error occurred: failed calling webhook "mutation.azure-workload-identity.io": failed to call webhook: Post "https://azure-wi-down.idlab-aks-webhook-down.svc:443/mutate-v1-pod?timeout=10s": dial tcp 10.96.1.2:443: connect: connection refused`
	timeout := `Internal error occurred: failed calling webhook "mutation.azure-workload-identity.io": failed to call webhook: Post "https://azure-wi-webhook-controller-manager.idlab-system.svc:443/mutate-v1-pod?timeout=10s": context deadline exceeded`
	for _, tc := range []struct {
		name     string
		failures int
		msg      string
		within   time.Duration
		calls    int
		wantErr  string
	}{
		{"lab webhook back", 2, lab, time.Minute, 3, ""},
		{"no endpoints, back", 1, noEndpoints, time.Minute, 2, ""},
		{"lab webhook stays down", 100, lab, 3 * time.Second, 3, "connection refused"},
		{"the stand-in is not waited out", 100, stand, time.Minute, 1, "azure-wi-down"},
		{"a timeout is not waited out", 100, timeout, time.Minute, 1, "context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			calls := 0
			cs.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				calls++
				if calls <= tc.failures {
					return true, nil, apierrors.NewInternalError(errors.New(strings.TrimPrefix(tc.msg, "Internal error occurred: ")))
				}
				return false, nil, nil
			})
			var log strings.Builder
			Retried = &log
			t.Cleanup(func() { Retried = os.Stderr })
			err := create(t.Context(), cs.CoreV1().Pods("ns"), PlainPod("p", "app", "probe"), tc.within)
			require.Equal(t, tc.calls, calls)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.failures, strings.Count(log.String(), "trying again"))
		})
	}
}

// TestWaitForMutation: it dry-runs until the webhooks' mutation is the one
// wanted (a lagging cache: the first answers lack it), stores nothing, and
// gives up after within, quoting what was missing.
func TestWaitForMutation(t *testing.T) {
	wantID := func(p *corev1.Pod) error {
		if got := Env(p, "AZURE_CLIENT_ID"); got != "client-a" {
			return fmt.Errorf("AZURE_CLIENT_ID=%q", got)
		}
		return nil
	}
	for _, tc := range []struct {
		name    string
		stale   int // dry runs answered without the variable
		refused int // dry runs refused before those
		within  time.Duration
		calls   int
		wantErr string
	}{
		{"mutated at once", 0, 0, time.Minute, 1, ""},
		{"cache catches up", 3, 0, time.Minute, 4, ""},
		{"refused, then mutated", 0, 2, time.Minute, 3, ""},
		{"never mutated", 100, 0, 1200 * time.Millisecond, 3, `AZURE_CLIENT_ID=""`},
		{"never admitted", 0, 100, 1200 * time.Millisecond, 3, "webhook down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			calls := 0
			cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				calls++
				ca := a.(k8stesting.CreateActionImpl)
				require.Equal(t, []string{metav1.DryRunAll}, ca.GetCreateOptions().DryRun, "only dry runs")
				if calls <= tc.refused {
					return true, nil, apierrors.NewInternalError(errors.New("webhook down"))
				}
				p := ca.GetObject().(*corev1.Pod).DeepCopy()
				if calls > tc.refused+tc.stale {
					WithEnv(p, "AZURE_CLIENT_ID", "client-a")
				}
				return true, p, nil
			})
			err := WaitForMutation(t.Context(), cs, "ns", PlainPod("p", "app", "probe"), tc.within, wantID)
			if tc.wantErr != "" {
				require.GreaterOrEqual(t, calls, tc.calls-1, "tried again until within ran out (one fewer on a slow machine)")
			} else {
				require.Equal(t, tc.calls, calls)
			}
			pods, lerr := cs.CoreV1().Pods("ns").List(t.Context(), metav1.ListOptions{})
			require.NoError(t, lerr)
			require.Empty(t, pods.Items, "a dry run stores nothing")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}
