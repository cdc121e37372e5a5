package gtoken

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/idlab/idlab/internal/admissiontest"
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
	return admissiontest.PodRequest(uid, namespace, pod.Name, raw)
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
	a := admissiontest.Load(t, path)
	require.Empty(t, a.ConfigMaps, "%s: gtoken fixtures hold no ConfigMap", path)
	f := fixture{pod: a.Pod, sas: a.ServiceAccounts, raw: a.Raw}
	f.ns = f.pod.Namespace
	if ns, ok := f.pod.Annotations[testRequestNSAnnotation]; ok {
		f.ns = ns
	}
	return f
}

func fixtures(t *testing.T) []string { return admissiontest.Paths(t) }

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
