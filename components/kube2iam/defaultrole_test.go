package kube2iam_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/idlab/idlab/components/kube2iam"
)

// TestDefaultRoleOnlyForAKnownPod is jtblin/kube2iam#46 against the
// proxy: with --default-role, a pod asking before the proxy knows it used
// to get the default role (upstream's store before c5ef1ec, PR #92,
// release 0.8.0, answered "Using fallback role for IP" for any IP it had
// no role for). Since then, as at 4c4a2b4 (mappings/mapper.go:
// GetRoleMapping looks the pod up first and extractRoleARN falls back to
// the default only for a pod found without the annotation;
// server/server.go retries the lookup with backoff), an unknown caller is
// refused once the backoff runs out, a pod that shows up during it gets
// its own role, and only a known pod without the annotation gets the
// default.
func TestDefaultRoleOnlyForAKnownPod(t *testing.T) {
	const defaultRole = "kube2iam-default"
	ns := namespace("a", `["kube2iam-app"]`)
	tests := []struct {
		name string
		// objs are there from the start; late is created when the proxy
		// first asks the API server for the caller and finds nothing.
		objs     []runtime.Object
		late     *corev1.Pod
		wantRole string
		status   int
		text     string
	}{
		{name: "no pod with the caller's IP: refused, not the default", objs: objs(ns),
			status: 404, text: "pod with specificed IP \"" + podIP + "\" not found\n"},
		{name: "annotated pod indexed during the backoff: its own role", objs: objs(ns), late: pod("a", "p", "kube2iam-app"), wantRole: "kube2iam-app"},
		{name: "annotated pod known: its own role", objs: objs(ns, pod("a", "p", "kube2iam-app")), wantRole: "kube2iam-app"},
		{name: "unannotated pod known: the default role", objs: objs(ns, pod("a", "p", "")), wantRole: defaultRole},
	}
	w := newWorld(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset(tc.objs...)
			var lists atomic.Int32
			cs.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				// The proxy's own lookup selects by IP; its informers'
				// lists by node only.
				if l, ok := a.(k8stesting.ListAction); !ok {
					return false, nil, nil
				} else if _, byIP := l.GetListRestrictions().Fields.RequiresExactMatch("status.podIP"); !byIP {
					return false, nil, nil
				}
				if lists.Add(1) == 1 && tc.late != nil {
					// The first miss: the pod is created now, as a pod
					// whose IP reaches the API server after its first call.
					require.NoError(t, cs.Tracker().Add(tc.late))
					return true, &corev1.PodList{}, nil
				}
				return false, nil, nil
			})
			srv := w.proxy(t, func(o *kube2iam.Options) {
				o.Client, o.DefaultRole, o.BackoffMaxElapsed = cs, defaultRole, 3*time.Second
			})
			code, body := get(t, srv.URL+"/latest/meta-data/iam/security-credentials/")
			if tc.late != nil {
				require.Positive(t, lists.Load(), "the first lookup missed the pod")
			}
			if tc.wantRole == "" {
				require.Equal(t, tc.status, code)
				require.Equal(t, tc.text, body)
				_, err := sdkRetrieve(srv.URL)
				require.Error(t, err, "the SDK gets no credentials")
				return
			}
			require.Equal(t, 200, code)
			require.Equal(t, tc.wantRole, body)
			creds, err := sdkRetrieve(srv.URL)
			require.NoError(t, err)
			require.Equal(t, "arn:aws:sts::"+account+":assumed-role/"+tc.wantRole+"/"+sessionFor(tc.wantRole), callerARN(t, w, creds))
		})
	}
}
