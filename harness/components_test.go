package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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

	"github.com/idlab/idlab/components/azurewebhook"
	"github.com/idlab/idlab/components/gtoken"
	"github.com/idlab/idlab/components/irsawebhook"
	"github.com/idlab/idlab/components/labca"
	"github.com/idlab/idlab/internal/admissiontest"
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

// fakeAdmission answers pod creates as an API server whose webhook starts
// working after notYet dry-run calls: until then it admits the pod
// unmutated (failurePolicy Ignore) or, failClosed, refuses it (Fail).
// Working, it applies mutate. Nothing is stored.
func fakeAdmission(notYet int, failClosed bool, mutate func(*corev1.Pod)) (*fake.Clientset, *int) {
	cs := fake.NewClientset()
	calls := 0
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca := a.(k8stesting.CreateActionImpl)
		pod := ca.GetObject().(*corev1.Pod).DeepCopy()
		if len(ca.GetCreateOptions().DryRun) == 0 {
			return true, nil, errors.New("not a dry run")
		}
		calls++
		switch {
		case calls > notYet:
			mutate(pod)
		case failClosed:
			return true, nil, errors.New(`Internal error occurred: failed calling webhook: no endpoints available for service "azure-wi-webhook-webhook-service"`)
		}
		return true, pod, nil
	})
	return cs, &calls
}

// webhookMutations are the three checks and, for each, what its real
// webhook does to the check's pod (MutatePod of its package).
func webhookMutations(t *testing.T) map[string]struct {
	check  webhookCheck
	mutate func(*corev1.Pod)
} {
	irsa, gt, az, lca := irsaCheck(), gtokenCheck(), azureCheck(), labCACheck()
	return map[string]struct {
		check  webhookCheck
		mutate func(*corev1.Pod)
	}{
		"irsa": {irsa, func(p *corev1.Pod) {
			*p = *admissiontest.Apply(t, p, irsawebhook.MutatePod(p, irsawebhook.PatchConfig{VolumeName: irsawebhook.VolumeName, MountPath: irsawebhook.MountPath,
				TokenPath: irsawebhook.TokenPath, Audience: "sts.amazonaws.com", ExpirationSeconds: 86400,
				WebIdentity: &irsawebhook.WebIdentity{RoleARN: irsa.sa.Annotations[irsawebhook.AnnotationRoleARN]}}))
		}},
		"gtoken": {gt, func(p *corev1.Pod) {
			ops, err := gtoken.MutatePod(p, gt.sa.Annotations[gtoken.AnnotationRoleARN], gtoken.Options{})
			require.NoError(t, err)
			*p = *admissiontest.Apply(t, p, ops)
		}},
		"azure": {az, func(p *corev1.Pod) {
			_, got, err := azurewebhook.MutatePod(p, az.sa, azurewebhook.Options{TenantID: AzureTenantID})
			require.NoError(t, err)
			*p = *got
		}},
		"lab-ca": {lca, func(p *corev1.Pod) {
			*p = *admissiontest.Apply(t, p, labca.MutatePod(p))
		}},
	}
}

// TestWebhookChecksSeeTheirWebhook: each check's pod, as its webhook
// mutates it, passes the check; as created, it does not.
func TestWebhookChecksSeeTheirWebhook(t *testing.T) {
	for name, m := range webhookMutations(t) {
		t.Run(name, func(t *testing.T) {
			pod := m.check.pod.DeepCopy()
			require.False(t, m.check.mutated(pod), "the pod as created")
			m.mutate(pod)
			require.True(t, m.check.mutated(pod), "the pod as the webhook mutates it: %+v", pod.Spec)
		})
	}
}

// TestWaitMutates: `idlab up` waits until each webhook mutates its dry-run
// pod, through the fail-open or fail-closed moments before the Service's
// endpoints settle, and gives up after its timeout.
func TestWaitMutates(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		notYet     int
		failClosed bool
		wantErr    string
		wantCalls  int
	}{
		{name: "mutating from the start", wantCalls: 1},
		{name: "unmutated until the endpoints settle", notYet: 3, wantCalls: 4},
		{name: "refused until the endpoints settle", notYet: 3, failClosed: true, wantCalls: 4},
		{name: "never mutated", notYet: 1000, wantErr: "did not mutate a dry-run pod within 300ms (last error: <nil>)"},
		{name: "always refused", notYet: 1000, failClosed: true, wantErr: "no endpoints available"},
	}
	for name, m := range webhookMutations(t) {
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				cs, calls := fakeAdmission(tc.notYet, tc.failClosed, m.mutate)
				// The wait ends on the mutation, long before its bound,
				// however slow this machine; only the failures wait it out.
				timeout := time.Minute
				if tc.wantErr != "" {
					timeout = 300 * time.Millisecond
				}
				err := waitMutates(ctx, cs, m.check, timeout, 10*time.Millisecond)
				if tc.wantErr != "" {
					require.ErrorContains(t, err, m.check.webhook+" ")
					require.ErrorContains(t, err, tc.wantErr)
					return
				}
				require.NoError(t, err)
				require.Equal(t, tc.wantCalls, *calls)
				ns := m.check.pod.Namespace
				sa, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, m.check.sa.Name, metav1.GetOptions{})
				require.NoError(t, err)
				require.Equal(t, m.check.sa.Annotations, sa.Annotations)
				_, err = cs.CoreV1().Pods(ns).Get(ctx, m.check.pod.Name, metav1.GetOptions{})
				require.Error(t, err, "dry-run pods are not stored")
				if m.check.ns != nil {
					got, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
					require.NoError(t, err)
					require.Equal(t, m.check.ns.Labels, got.Labels, "the check's namespace is labelled for its webhook")
				}
			})
		}
	}
}

// TestDefaultComponents: each cluster kind runs by default the components
// the managed service would, in deployment order, and pod identity after
// the IRSA webhook it builds on.
func TestDefaultComponents(t *testing.T) {
	tests := []struct {
		cluster string
		want    []string
	}{
		{cluster: "eks", want: []string{ComponentIRSAWebhook, ComponentPodIdentity, ComponentKube2iam, ComponentLabCA}},
		{cluster: "eks-2", want: []string{ComponentIRSAWebhook, ComponentPodIdentity, ComponentKube2iam, ComponentLabCA}},
		{cluster: "gke", want: []string{ComponentGKEMetadata, ComponentGToken, ComponentLabCA}},
		{cluster: "aks", want: []string{ComponentAzureWebhook, ComponentAADPodIdentity, ComponentLabCA}},
	}
	for _, tc := range tests {
		t.Run(tc.cluster, func(t *testing.T) {
			require.Equal(t, tc.want, DefaultCluster(tc.cluster).Components)
		})
	}
	seen := map[string]bool{}
	for _, c := range components() {
		require.False(t, seen[c.Name()], "component %s listed twice", c.Name())
		seen[c.Name()] = true
		require.Contains(t, []string{"eks", "gke", "aks", ""}, c.Cluster(), c.Name())
	}
}

// TestCheckGTokenBinary: the token writer must exist and fit the limits
// the webhook runs it under; the idlab binary's size is refused.
func TestCheckGTokenBinary(t *testing.T) {
	dir := t.TempDir()
	small, big := filepath.Join(dir, "gtoken"), filepath.Join(dir, "idlab")
	require.NoError(t, os.WriteFile(small, make([]byte, 6<<20), 0o755))
	f, err := os.Create(big)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(90<<20))
	require.NoError(t, f.Close())
	for _, tc := range []struct {
		path, want string
	}{
		{small, ""},
		{big, "is 90 MiB, over 16 MiB"},
		{filepath.Join(dir, "missing"), "make build writes bin/gtoken"},
	} {
		err := checkGTokenBinary(tc.path)
		if tc.want == "" {
			require.NoError(t, err)
			continue
		}
		require.ErrorContains(t, err, tc.want)
	}
}
