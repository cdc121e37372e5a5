package irsawebhook

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// newTestHandler starts a Handler over a fake clientset holding objs; it is
// closed when the test ends.
func newTestHandler(t *testing.T, opts Options, objs ...runtime.Object) (*Handler, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	if opts.Client == nil {
		opts.Client = client
	}
	if opts.ContainerCredentials.Rand == nil {
		opts.ContainerCredentials.Rand = halfJitter
	}
	h, err := New(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	return h, client
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
	pod  *corev1.Pod
	sas  []runtime.Object
	raw  []byte // the pod as JSON, exactly as the fixture has it
	opts Options
	ns   string // the AdmissionRequest's namespace
	// podIdentity is the container credentials config, if any.
	podIdentity string
}

// containerCredentials reports whether f's pod gets EKS Pod Identity: its
// service account is listed in the fixture's container credentials config.
func (f fixture) containerCredentials(t *testing.T) bool {
	t.Helper()
	set, err := parseIdentities([]byte(f.podIdentity))
	require.NoError(t, err)
	sa := f.pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	return set[identity{Namespace: f.ns, ServiceAccount: sa}]
}

// halfJitter draws the middle of the jitter range, so golden files are
// stable: 79200 + 3600.
func halfJitter(n int64) int64 { return n / 2 }

// Test-only pod annotations that set up the case.
const (
	testRegionAnnotation    = "test.idlab.dev/region"
	testRequestNSAnnotation = "test.idlab.dev/request-namespace"
)

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
		case "ConfigMap":
			// The container credentials config file, as EKS writes it.
			var cm corev1.ConfigMap
			require.NoError(t, yaml.Unmarshal([]byte(doc), &cm))
			f.opts.ContainerCredentials.ConfigFile = filepath.Join(t.TempDir(), "config.json")
			require.NoError(t, os.WriteFile(f.opts.ContainerCredentials.ConfigFile, []byte(cm.Data["config.json"]), 0o600))
			f.podIdentity = cm.Data["config.json"]
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
	f.opts.Region = f.pod.Annotations[testRegionAnnotation]
	f.ns = f.pod.Namespace
	if ns, ok := f.pod.Annotations[testRequestNSAnnotation]; ok {
		f.ns = ns
	}
	return f
}

// logBuffer is a goroutine-safe log sink for asserting on decisions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func fixtures(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	return paths
}

func fakeClient() *fake.Clientset { return fake.NewClientset() }
