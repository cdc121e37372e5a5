package irsawebhook

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/idlab/idlab/internal/admissiontest"
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
	return admissiontest.PodRequest(uid, namespace, pod.Name, raw)
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
	a := admissiontest.Load(t, path)
	f := fixture{pod: a.Pod, sas: a.ServiceAccounts, raw: a.Raw}
	for _, cm := range a.ConfigMaps {
		// The container credentials config file, as EKS writes it.
		f.opts.ContainerCredentials.ConfigFile = filepath.Join(t.TempDir(), "config.json")
		require.NoError(t, os.WriteFile(f.opts.ContainerCredentials.ConfigFile, []byte(cm.Data["config.json"]), 0o600))
		f.podIdentity = cm.Data["config.json"]
	}
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

func fixtures(t *testing.T) []string { return admissiontest.Paths(t) }

func fakeClient() *fake.Clientset { return fake.NewClientset() }
