package labca

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func testBundle(t *testing.T) Bundle {
	t.Helper()
	b, err := Assemble(newCA(t, "root").PEM, newCA(t, "idlab lab CA").PEM)
	require.NoError(t, err)
	return b
}

func namespace(name string, labelled bool) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	if labelled {
		ns.Labels = map[string]string{NamespaceLabel: NamespaceEnabled}
	}
	return ns
}

func TestPublisherSync(t *testing.T) {
	b := testBundle(t)
	terminating := namespace("going", true)
	terminating.Status.Phase = corev1.NamespaceTerminating
	stale := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: BundleConfigMap, Namespace: "stale"}, Data: map[string]string{BundleFile: "old"}}
	otherValue := namespace("other-value", false)
	otherValue.Labels = map[string]string{NamespaceLabel: "disabled"}
	tests := []struct {
		ns       string
		want     bool // the ConfigMap holds the bundle afterwards
		wantNone bool // no ConfigMap at all
	}{
		{ns: "on", want: true},
		{ns: "off", wantNone: true},
		{ns: "other-value", wantNone: true},
		{ns: "going", wantNone: true},
		{ns: "stale", want: true},
		{ns: "missing", wantNone: true},
	}
	cs := fake.NewClientset(namespace("on", true), namespace("off", false), otherValue, terminating, namespace("stale", true), stale)
	p, err := NewPublisher(PublisherOptions{Client: cs, Bundle: b})
	require.NoError(t, err)
	for _, tc := range tests {
		t.Run(tc.ns, func(t *testing.T) {
			require.NoError(t, p.Sync(t.Context(), tc.ns))
			require.NoError(t, p.Sync(t.Context(), tc.ns), "a second sync is a no-op")
			cm, err := cs.CoreV1().ConfigMaps(tc.ns).Get(t.Context(), BundleConfigMap, metav1.GetOptions{})
			if tc.wantNone {
				require.True(t, apierrors.IsNotFound(err), "%v", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, b.Data(), cm.Data)
		})
	}
	_, err = NewPublisher(PublisherOptions{})
	require.ErrorContains(t, err, "Client is required")
}

// TestPublisherRun: a namespace labelled while the publisher runs gets the
// ConfigMap, and gets it back when it is deleted.
func TestPublisherRun(t *testing.T) {
	b := testBundle(t)
	cs := fake.NewClientset()
	p, err := NewPublisher(PublisherOptions{Client: cs, Bundle: b, Resync: 200 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	_, err = cs.CoreV1().Namespaces().Create(ctx, namespace("apps", true), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = cs.CoreV1().Namespaces().Create(ctx, namespace("plain", false), metav1.CreateOptions{})
	require.NoError(t, err)
	published := func() bool {
		cm, err := cs.CoreV1().ConfigMaps("apps").Get(ctx, BundleConfigMap, metav1.GetOptions{})
		return err == nil && cm.Data[BundleFile] == string(b.All)
	}
	require.Eventually(t, published, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, cs.CoreV1().ConfigMaps("apps").Delete(ctx, BundleConfigMap, metav1.DeleteOptions{}))
	require.Eventually(t, published, 10*time.Second, 20*time.Millisecond, "a deleted ConfigMap comes back")
	_, err = cs.CoreV1().ConfigMaps("plain").Get(ctx, BundleConfigMap, metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "an unlabelled namespace gets nothing: %v", err)
}
