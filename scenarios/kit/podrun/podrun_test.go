package podrun

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
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
