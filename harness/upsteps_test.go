package harness

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fakeComponent is a component for deployAll's tests.
type fakeComponent struct{ name, dependsOn string }

func (f fakeComponent) Name() string                          { return f.name }
func (fakeComponent) Cluster() string                         { return "" }
func (fakeComponent) Deploy(context.Context, *deployer) error { return nil }

type fakeDependent struct{ fakeComponent }

func (f fakeDependent) after() string { return f.dependsOn }

// TestDeployAll: components deploy at once, a dependent only after the
// one it names has served, and not at all when that one failed.
func TestDeployAll(t *testing.T) {
	base := fakeComponent{name: "irsa"}
	dep := fakeDependent{fakeComponent{name: "pod-identity", dependsOn: "irsa"}}
	other := fakeComponent{name: "kube2iam"}
	tests := []struct {
		name      string
		comps     []component
		fail      string
		wantOrder func(t *testing.T, started []string)
		wantErr   []string
	}{
		{name: "dependent after its base", comps: []component{dep, base, other},
			wantOrder: func(t *testing.T, started []string) {
				require.Less(t, slices.Index(started, "irsa-done"), slices.Index(started, "pod-identity"), "started: %v", started)
			}},
		{name: "dependent skipped when its base failed", comps: []component{base, dep, other}, fail: "irsa",
			wantOrder: func(t *testing.T, started []string) {
				require.NotContains(t, started, "pod-identity")
				require.Contains(t, started, "kube2iam")
			},
			wantErr: []string{"irsa: boom", "pod-identity: not deployed: it builds on irsa, which failed"}},
		{name: "dependent without its base in the cluster runs", comps: []component{dep},
			wantOrder: func(t *testing.T, started []string) {
				require.Equal(t, []string{"pod-identity", "pod-identity-done"}, started)
			}},
		{name: "other failures do not stop the rest", comps: []component{base, dep, other}, fail: "kube2iam",
			wantOrder: func(t *testing.T, started []string) { require.Contains(t, started, "pod-identity-done") },
			wantErr:   []string{"kube2iam: boom"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var started []string
			note := func(s string) { mu.Lock(); started = append(started, s); mu.Unlock() }
			// The base is slow, so a dependent that did not wait would start first.
			err := deployAll(tc.comps, func(c component) error {
				note(c.Name())
				if c.Name() == "irsa" {
					time.Sleep(50 * time.Millisecond)
				}
				defer note(c.Name() + "-done")
				if c.Name() == tc.fail {
					return errors.New("boom")
				}
				return nil
			})
			if len(tc.wantErr) == 0 {
				require.NoError(t, err)
			} else {
				for _, w := range tc.wantErr {
					require.ErrorContains(t, err, w)
				}
			}
			tc.wantOrder(t, started)
		})
	}
	// The one dependent the lab has is EKS Pod Identity, on the IRSA webhook.
	var deps []string
	for _, c := range components() {
		if d, ok := c.(dependent); ok {
			deps = append(deps, c.Name()+" after "+d.after())
		}
	}
	require.Equal(t, []string{ComponentPodIdentity + " after " + ComponentIRSAWebhook}, deps)
}

// TestBackground: a job's result waits for it, a key runs once, a key
// never started is an error, and stop cancels what still runs.
func TestBackground(t *testing.T) {
	b := newBackground(t.Context())
	release := make(chan struct{})
	b.start("a", func(context.Context) error { <-release; return errors.New("a failed") })
	b.start("a", func(context.Context) error { t.Error("a key runs once"); return nil })
	b.start("b", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	got := make(chan error, 1)
	go func() { got <- b.wait("a") }()
	select {
	case err := <-got:
		t.Fatalf("wait returned before the job ended: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	require.EqualError(t, <-got, "a failed")
	require.ErrorContains(t, b.wait("never"), "never started")
	b.stop()
	require.ErrorIs(t, b.wait("b"), context.Canceled)
}

// TestUpsertRetriesConflict: an update that loses a race (409) is tried
// again over the newer version; any other error is returned.
func TestUpsertRetriesConflict(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failWith  error
		failTimes int
		wantErr   string
		wantCalls int
	}{
		{name: "no conflict", wantCalls: 1},
		{name: "one conflict", failWith: apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "x", errors.New("changed")), failTimes: 1, wantCalls: 2},
		{name: "forbidden is not retried", failWith: apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "x", errors.New("no")), failTimes: 1,
			wantErr: "forbidden", wantCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}, Data: map[string]string{"k": "old"}})
			calls := 0
			cs.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
				calls++
				if calls <= tc.failTimes {
					return true, nil, tc.failWith
				}
				return false, nil, nil
			})
			err := apply(t.Context(), cs, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}, Data: map[string]string{"k": "new"}})
			require.Equal(t, tc.wantCalls, calls)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			cm, err := cs.CoreV1().ConfigMaps("ns").Get(t.Context(), "x", metav1.GetOptions{})
			require.NoError(t, err)
			require.Equal(t, "new", cm.Data["k"])
		})
	}
}

// TestPlanClientImages: the probe goes everywhere; the client images go
// to the first node of a pinned-workers cluster, else everywhere; the
// Python clients only where pods get AWS identities, azure-cli only where
// the Azure webhook runs.
func TestPlanClientImages(t *testing.T) {
	w := wiring{probeImage: "probe", pyImage: "py", tools: toolImages{Tool: "tool", Az: "az"}}
	eks := ClusterConfig{Name: "eks", Components: []string{ComponentIRSAWebhook}, PinnedWorkers: true}
	gke := ClusterConfig{Name: "gke", Components: []string{ComponentGToken}}
	aks := ClusterConfig{Name: "aks", Components: []string{ComponentAzureWebhook}, PinnedWorkers: true}
	for _, tc := range []struct {
		name string
		c    ClusterConfig
		w    wiring
		want clientImagePlan
	}{
		{"pinned aws cluster", eks, w, clientImagePlan{everywhere: []string{"probe"}, firstNode: []string{"py", "tool"}}},
		{"unpinned gtoken cluster", gke, w, clientImagePlan{everywhere: []string{"probe", "py", "tool"}}},
		{"pinned azure cluster", aks, w, clientImagePlan{everywhere: []string{"probe"}, firstNode: []string{"tool", "az"}}},
		{"no probe", eks, wiring{pyImage: "py"}, clientImagePlan{firstNode: []string{"py"}}},
		{"nothing", ClusterConfig{Name: "x"}, wiring{}, clientImagePlan{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, planClientImages(tc.c, tc.w))
		})
	}
}
