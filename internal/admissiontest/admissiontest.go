// Package admissiontest loads the golden-test fixtures of the lab's mutating
// webhooks (irsawebhook, gtoken, azurewebhook) and wraps their pods in
// AdmissionRequests, so the three packages' tests read testdata the same way.
package admissiontest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// Fixture is one testdata/*.yaml: "---"-separated ServiceAccounts,
// ConfigMaps and exactly the pod under test.
type Fixture struct {
	Pod             *corev1.Pod
	Raw             []byte // the pod as JSON, exactly as the fixture has it
	ServiceAccounts []runtime.Object
	ConfigMaps      []corev1.ConfigMap
}

// Load reads the fixture at path; any other kind fails the test.
func Load(t testing.TB, path string) Fixture {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var f Fixture
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var tm metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &tm), "%s", path)
		switch tm.Kind {
		case "ServiceAccount":
			var sa corev1.ServiceAccount
			require.NoError(t, yaml.Unmarshal([]byte(doc), &sa))
			f.ServiceAccounts = append(f.ServiceAccounts, &sa)
		case "ConfigMap":
			var cm corev1.ConfigMap
			require.NoError(t, yaml.Unmarshal([]byte(doc), &cm))
			f.ConfigMaps = append(f.ConfigMaps, cm)
		case "Pod":
			f.Raw, err = yaml.YAMLToJSON([]byte(doc))
			require.NoError(t, err)
			f.Pod = &corev1.Pod{}
			require.NoError(t, json.Unmarshal(f.Raw, f.Pod))
		default:
			t.Fatalf("%s: unexpected kind %q", path, tm.Kind)
		}
	}
	require.NotNil(t, f.Pod, "%s: no pod", path)
	return f
}

// Paths lists testdata/*.yaml, failing the test when there is none.
func Paths(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	return paths
}

// PodRequest wraps a pod's JSON in a CREATE AdmissionRequest for namespace;
// name is the request's name ("" as the API server sends for generateName).
func PodRequest(uid, namespace, name string, raw []byte) *admissionv1.AdmissionRequest {
	return &admissionv1.AdmissionRequest{
		UID:       types.UID(uid),
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: namespace,
		Name:      name,
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: raw},
	}
}

// Apply returns pod with a webhook's JSON Patch ops (any of the webhooks'
// PatchOperation slices) applied, as the API server applies them.
func Apply(t testing.TB, pod *corev1.Pod, ops any) *corev1.Pod {
	t.Helper()
	raw, err := json.Marshal(pod)
	require.NoError(t, err)
	patch, err := json.Marshal(ops)
	require.NoError(t, err)
	p, err := jsonpatch.DecodePatch(patch)
	require.NoError(t, err)
	out, err := p.Apply(raw)
	require.NoError(t, err)
	var got corev1.Pod
	require.NoError(t, json.Unmarshal(out, &got))
	return &got
}
