package labenv

import (
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

const manifest = `# the app
apiVersion: v1
kind: ServiceAccount
metadata:
  name: my-app
  namespace: payments
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/my-app
---
# only a comment
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-app
spec:
  selector: {matchLabels: {app: my-app}}
  template:
    metadata: {labels: {app: my-app}}
    spec:
      serviceAccountName: my-app
      containers: [{name: app, image: amazon/aws-cli:2.15.30}]
`

// TestApplyManifest: every object of a multi-document manifest is created
// in the namespace, in order; one naming another namespace, or a kind it
// does not create, fails before anything is created.
func TestApplyManifest(t *testing.T) {
	cs := fake.NewClientset()
	objs, err := ApplyManifest(t.Context(), cs, "payments", []byte(manifest))
	require.NoError(t, err)
	require.Len(t, objs, 2, "the comment-only document is no object")
	require.IsType(t, &corev1.ServiceAccount{}, objs[0])
	sa, err := cs.CoreV1().ServiceAccounts("payments").Get(t.Context(), "my-app", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::111122223333:role/my-app", sa.Annotations["eks.amazonaws.com/role-arn"])
	d, err := cs.AppsV1().Deployments("payments").Get(t.Context(), "my-app", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "my-app", d.Spec.Template.Spec.ServiceAccountName)
	require.IsType(t, &appsv1.Deployment{}, objs[1])

	for name, tc := range map[string]struct{ manifest, want string }{
		"other namespace": {manifest: manifest, want: "names namespace payments, not shop"},
		"unsupported kind": {manifest: "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x}\n---\n" + manifest,
			want: "kind not supported"},
		"not a manifest": {manifest: "kind: [", want: "manifest document 1"},
	} {
		t.Run(name, func(t *testing.T) {
			cs := fake.NewClientset()
			_, err := ApplyManifest(t.Context(), cs, "shop", []byte(tc.manifest))
			require.ErrorContains(t, err, tc.want)
			sas, err := cs.CoreV1().ServiceAccounts("shop").List(t.Context(), metav1.ListOptions{})
			require.NoError(t, err)
			require.Empty(t, sas.Items, "nothing created")
		})
	}
}

// FuzzDecodeManifest: whatever a user's file holds, decoding returns
// objects or an error, never a nil object, and the same answer twice.
func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(manifest))
	f.Add([]byte("---\n---\n# nothing\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b}]}\n---\nkind: ["))
	f.Fuzz(func(t *testing.T, raw []byte) {
		objs, err := DecodeManifest(raw)
		again, err2 := DecodeManifest(raw)
		require.Equal(t, err == nil, err2 == nil)
		if err != nil {
			return
		}
		require.Len(t, again, len(objs))
		for _, o := range objs {
			require.NotNil(t, o)
		}
	})
}
