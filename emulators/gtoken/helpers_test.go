package gtoken

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

const testRoleARN = "arn:aws:iam::111122223333:role/s3-reader"

// newTestHandler returns a Handler over a fake clientset holding objs.
func newTestHandler(t *testing.T, opts Options, objs ...runtime.Object) (*Handler, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	if opts.Client == nil {
		opts.Client = client
	}
	h, err := New(t.Context(), opts)
	require.NoError(t, err)
	return h, client
}

// roleSA is a ServiceAccount annotated with testRoleARN.
func roleSA(ns, name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Namespace:   ns,
		Name:        name,
		Annotations: map[string]string{AnnotationRoleARN: testRoleARN},
	}}
}

// podRequest wraps pod in a CREATE AdmissionRequest for namespace.
func podRequest(t *testing.T, uid, namespace string, pod *corev1.Pod) *admissionv1.AdmissionRequest {
	t.Helper()
	raw, err := json.Marshal(pod)
	require.NoError(t, err)
	return &admissionv1.AdmissionRequest{
		UID:       types.UID(uid),
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: namespace,
		Name:      pod.Name,
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: raw},
	}
}

// fixture is one testdata/*.yaml: ServiceAccounts and the pod under test.
type fixture struct {
	pod *corev1.Pod
	sas []runtime.Object
	raw []byte // the pod as JSON, exactly as the fixture has it
	ns  string // the AdmissionRequest's namespace
}

// testRequestNSAnnotation on a fixture pod sets the request's namespace.
const testRequestNSAnnotation = "test.idlab.dev/request-namespace"

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
	f.ns = f.pod.Namespace
	if ns, ok := f.pod.Annotations[testRequestNSAnnotation]; ok {
		f.ns = ns
	}
	return f
}

func fixtures(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	return paths
}

// requireReview decodes an AdmissionReview answer and checks its type.
func requireReview(t *testing.T, body []byte) admissionv1.AdmissionReview {
	t.Helper()
	var rv admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(body, &rv), "%s", body)
	require.Equal(t, "admission.k8s.io/v1", rv.APIVersion)
	require.Equal(t, "AdmissionReview", rv.Kind)
	require.NotNil(t, rv.Response)
	return rv
}
