package harness

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/idlab/idlab/emulators/irsawebhook"
)

func TestApplyCreatesThenReplaces(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n"}, Data: map[string][]byte{"k": []byte("one")}}
	require.NoError(t, apply(ctx, cs, sec))
	sec2 := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n"}, Data: map[string][]byte{"k": []byte("two")}}
	require.NoError(t, apply(ctx, cs, sec2))
	got, err := cs.CoreV1().Secrets("n").Get(ctx, "s", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "two", string(got.Data["k"]), "the lab's version wins")

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	require.NoError(t, apply(ctx, cs, ns))
	require.NoError(t, apply(ctx, cs, ns), "an existing namespace is fine")

	err = apply(ctx, cs, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j"}})
	require.ErrorContains(t, err, "unsupported object *v1.Job")
}

func TestWaitDeployment(t *testing.T) {
	ctx := context.Background()
	one := int32(1)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "n", Generation: 2}, Spec: appsv1.DeploymentSpec{Replicas: &one}}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}
	cs := fake.NewClientset(d)
	err := waitDeployment(ctx, cs, "n", "w", 1500*time.Millisecond)
	require.ErrorContains(t, err, "deployment n/w not available", "a status of an older generation does not count")

	d.Status.ObservedGeneration = 2
	_, err = cs.AppsV1().Deployments("n").UpdateStatus(ctx, d, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.NoError(t, waitDeployment(ctx, cs, "n", "w", 5*time.Second))
}

// fakeAdmission answers pod creates as an API server whose IRSA webhook
// starts mutating after failOpen calls (fail-open until then); dry-run
// creates are not stored.
func fakeAdmission(failOpen int) (*fake.Clientset, *int) {
	cs := fake.NewClientset()
	calls := 0
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca := a.(k8stesting.CreateActionImpl)
		pod := ca.GetObject().(*corev1.Pod).DeepCopy()
		if len(ca.GetCreateOptions().DryRun) == 0 {
			return true, nil, errors.New("not a dry run")
		}
		calls++
		if calls > failOpen {
			pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: irsawebhook.EnvRoleARN, Value: "x"})
		}
		return true, pod, nil
	})
	return cs, &calls
}

func TestWaitIRSAMutates(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		failOpen  int
		wantErr   string
		wantCalls int
	}{
		{"mutating from the start", 0, "", 1},
		{"unmutated until the endpoints settle", 3, "", 4},
		{"never mutated", 1000, "the IRSA webhook did not mutate a dry-run pod", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, calls := fakeAdmission(tc.failOpen)
			err := waitIRSAMutates(ctx, cs, 300*time.Millisecond, 10*time.Millisecond)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantCalls, *calls)
			sa, err := cs.CoreV1().ServiceAccounts(SystemNamespace).Get(ctx, webhookReady, metav1.GetOptions{})
			require.NoError(t, err)
			require.Contains(t, sa.Annotations[irsawebhook.AnnotationRoleARN], ":role/"+webhookReady)
			_, err = cs.CoreV1().Pods(SystemNamespace).Get(ctx, webhookReady, metav1.GetOptions{})
			require.Error(t, err, "dry-run pods are not stored")
		})
	}
}
