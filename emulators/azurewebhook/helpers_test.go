package azurewebhook

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

const configTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// newTestHandler starts a Handler over a fake clientset holding objs.
func newTestHandler(t *testing.T, objs ...runtime.Object) (*Handler, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	h, err := New(t.Context(), Options{TenantID: configTenant, Client: client})
	require.NoError(t, err)
	t.Cleanup(h.Close)
	return h, client
}

// podRequest wraps a raw pod in a CREATE AdmissionRequest for namespace.
func podRequest(uid, namespace string, raw []byte) *admissionv1.AdmissionRequest {
	return &admissionv1.AdmissionRequest{
		UID:       types.UID(uid),
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: namespace,
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: raw},
	}
}

// fixture is one testdata/*.yaml: ServiceAccounts and the pod under test.
type fixture struct {
	pod *corev1.Pod
	raw []byte
	sas []runtime.Object
}

func loadFixture(t *testing.T, path string) fixture {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var f fixture
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var tm metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &tm), "%s", path)
		switch tm.Kind {
		case "ServiceAccount":
			var sa corev1.ServiceAccount
			require.NoError(t, yaml.Unmarshal([]byte(doc), &sa))
			f.sas = append(f.sas, &sa)
		case "Pod":
			f.raw, err = yaml.YAMLToJSON([]byte(doc))
			require.NoError(t, err)
			f.pod = &corev1.Pod{}
			require.NoError(t, json.Unmarshal(f.raw, f.pod))
		default:
			t.Fatalf("%s: unexpected kind %q", path, tm.Kind)
		}
	}
	require.NotNil(t, f.pod, "%s: no pod", path)
	return f
}

func fixtures(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	return paths
}
