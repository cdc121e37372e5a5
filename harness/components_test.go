package harness

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
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
