package labenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/idlab/idlab/harness/kubeclient"
)

// ErrUnsupportedKind is returned by ApplyManifest for an object of a kind
// it does not create.
var ErrUnsupportedKind = errors.New("kind not supported by ApplyManifest")

// Apply creates objs in namespace ns of c, as a user's kubectl apply
// would (ApplyObjects): the Deployment and service account a user brings
// run as they are. Read them from the user's file with DecodeManifest.
func (c *Cluster) Apply(ctx context.Context, t *testing.T, ns string, objs ...runtime.Object) {
	t.Helper()
	require.NoError(t, ApplyObjects(ctx, c.CS, ns, objs...))
}

// ApplyManifest creates the objects of manifest (YAML or JSON, documents
// separated by ---, as kubectl apply -f reads them) in namespace ns:
// DecodeManifest, then ApplyObjects.
func ApplyManifest(ctx context.Context, cs kubernetes.Interface, ns string, manifest []byte) ([]runtime.Object, error) {
	objs, err := DecodeManifest(manifest)
	if err != nil {
		return nil, err
	}
	return objs, ApplyObjects(ctx, cs, ns, objs...)
}

// ApplyObjects creates objs in namespace ns (an object naming another
// namespace is an error: a test owns its namespace), in their order, so a
// service account comes before the pods that use it. It creates the kinds
// an application's manifest holds: ServiceAccount, ConfigMap, Secret,
// Service, Pod, Deployment, StatefulSet, DaemonSet and Job; any other is
// ErrUnsupportedKind, found before anything is created.
func ApplyObjects(ctx context.Context, cs kubernetes.Interface, ns string, objs ...runtime.Object) error {
	creates := make([]func(context.Context) (runtime.Object, error), len(objs))
	for i, o := range objs {
		m, err := metaOf(o)
		if err != nil {
			return err
		}
		if m.GetNamespace() != "" && m.GetNamespace() != ns {
			return fmt.Errorf("%s %s names namespace %s, not %s", kindOf(o), m.GetName(), m.GetNamespace(), ns)
		}
		if creates[i], err = creator(cs, ns, o); err != nil {
			return err
		}
	}
	for i, create := range creates {
		if _, err := create(ctx); err != nil {
			m, _ := metaOf(objs[i])
			return fmt.Errorf("create %s %s/%s: %w", kindOf(objs[i]), ns, m.GetName(), err)
		}
	}
	return nil
}

// DecodeManifest reads the objects of a YAML or JSON manifest into their
// typed forms (client-go's scheme); empty documents are skipped.
func DecodeManifest(manifest []byte) ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufioReader(manifest))
	var objs []runtime.Object
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("manifest document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("manifest document %d: %w", i, err)
		}
		objs = append(objs, obj)
	}
}

// creator is the create call of o in ns, made through kubeclient.Create,
// which waits out a kube-apiserver restart.
func creator(cs kubernetes.Interface, ns string, o runtime.Object) (func(context.Context) (runtime.Object, error), error) {
	switch o := o.(type) {
	case *corev1.ServiceAccount:
		return createOf(o, cs.CoreV1().ServiceAccounts(ns)), nil
	case *corev1.ConfigMap:
		return createOf(o, cs.CoreV1().ConfigMaps(ns)), nil
	case *corev1.Secret:
		return createOf(o, cs.CoreV1().Secrets(ns)), nil
	case *corev1.Service:
		return createOf(o, cs.CoreV1().Services(ns)), nil
	case *corev1.Pod:
		return createOf(o, cs.CoreV1().Pods(ns)), nil
	case *appsv1.Deployment:
		return createOf(o, cs.AppsV1().Deployments(ns)), nil
	case *appsv1.StatefulSet:
		return createOf(o, cs.AppsV1().StatefulSets(ns)), nil
	case *appsv1.DaemonSet:
		return createOf(o, cs.AppsV1().DaemonSets(ns)), nil
	case *batchv1.Job:
		return createOf(o, cs.BatchV1().Jobs(ns)), nil
	}
	return nil, fmt.Errorf("%s: %w", kindOf(o), ErrUnsupportedKind)
}

// client is the part of a typed client-go client that creating needs.
type client[T runtime.Object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
}

func createOf[T interface {
	runtime.Object
	metav1.Object
}](o T, c client[T]) func(context.Context) (runtime.Object, error) {
	return func(ctx context.Context) (runtime.Object, error) {
		got, err := kubeclient.Create(ctx,
			func(ctx context.Context) (T, error) { return c.Create(ctx, o, metav1.CreateOptions{}) },
			func(ctx context.Context) (T, error) { return c.Get(ctx, o.GetName(), metav1.GetOptions{}) })
		return got, err
	}
}

func metaOf(o runtime.Object) (metav1.Object, error) {
	m, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%s has no object metadata: %w", kindOf(o), ErrUnsupportedKind)
	}
	return m, nil
}

func kindOf(o runtime.Object) string {
	if k := o.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	return fmt.Sprintf("%T", o)
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// stripComments drops the comment lines of a document: one holding
// comments only is empty.
func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}
