package azurewebhook

import (
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/idlab/idlab/internal/admissiontest"
)

const configTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// newTestHandler starts a Handler over a fake clientset holding objs, the
// API server a Kubernetes 1.34 (native sidecars).
func newTestHandler(t *testing.T, objs ...runtime.Object) (*Handler, *fake.Clientset) {
	t.Helper()
	return newTestHandlerWith(t, Options{}, objs...)
}

// newTestHandlerWith is newTestHandler with opts (TenantID and Client set).
func newTestHandlerWith(t *testing.T, opts Options, objs ...runtime.Object) (*Handler, *fake.Clientset) {
	t.Helper()
	client := fakeClient(objs...)
	opts.TenantID, opts.Client = configTenant, client
	h, err := New(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	return h, client
}

// fakeClient is a fake clientset holding objs whose server is Kubernetes
// v1.34.4.
func fakeClient(objs ...runtime.Object) *fake.Clientset {
	client := fake.NewClientset(objs...)
	client.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.34.4"}
	return client
}

// podRequest wraps a raw pod in a CREATE AdmissionRequest for namespace.
func podRequest(uid, namespace string, raw []byte) *admissionv1.AdmissionRequest {
	return admissiontest.PodRequest(uid, namespace, "", raw)
}

// fixture is one testdata/*.yaml: ServiceAccounts and the pod under test.
type fixture struct {
	pod *corev1.Pod
	raw []byte
	sas []runtime.Object
}

func loadFixture(t *testing.T, path string) fixture {
	t.Helper()
	a := admissiontest.Load(t, path)
	require.Empty(t, a.ConfigMaps, "%s: azurewebhook fixtures hold no ConfigMap", path)
	return fixture{pod: a.Pod, raw: a.Raw, sas: a.ServiceAccounts}
}

func fixtures(t *testing.T) []string { return admissiontest.Paths(t) }
