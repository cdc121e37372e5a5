package harness

import (
	"context"
	"fmt"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// apply creates obj, or replaces it when it exists: the lab owns these
// objects, so its version wins.
func apply(ctx context.Context, cs kubernetes.Interface, obj runtime.Object) error {
	var err error
	switch o := obj.(type) {
	case *corev1.Namespace:
		_, err = cs.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
	case *corev1.Secret:
		err = upsert(ctx, o, cs.CoreV1().Secrets(o.Namespace))
	case *corev1.ServiceAccount:
		err = upsert(ctx, o, cs.CoreV1().ServiceAccounts(o.Namespace))
	case *corev1.Service:
		err = upsert(ctx, o, cs.CoreV1().Services(o.Namespace))
	case *rbacv1.ClusterRole:
		err = upsert(ctx, o, cs.RbacV1().ClusterRoles())
	case *rbacv1.ClusterRoleBinding:
		err = upsert(ctx, o, cs.RbacV1().ClusterRoleBindings())
	case *appsv1.Deployment:
		err = upsert(ctx, o, cs.AppsV1().Deployments(o.Namespace))
	case *appsv1.DaemonSet:
		err = upsert(ctx, o, cs.AppsV1().DaemonSets(o.Namespace))
	case *corev1.ConfigMap:
		err = upsert(ctx, o, cs.CoreV1().ConfigMaps(o.Namespace))
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		err = upsert(ctx, o, cs.AdmissionregistrationV1().MutatingWebhookConfigurations())
	default:
		return fmt.Errorf("apply: unsupported object %T", obj)
	}
	if err != nil {
		return fmt.Errorf("apply %T: %w", obj, err)
	}
	return nil
}

// object is what upsert needs of a typed Kubernetes object.
type object interface {
	metav1.Object
	runtime.Object
}

// client is the slice of a typed client-go interface upsert uses.
type client[T object] interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
	Update(context.Context, T, metav1.UpdateOptions) (T, error)
	Get(context.Context, string, metav1.GetOptions) (T, error)
}

// upsert creates o or updates the existing object over its resource
// version, again over a newer one when another writer (a component
// deploying beside it, a controller) changed it in between.
func upsert[T object](ctx context.Context, o T, c client[T]) error {
	_, err := c.Create(ctx, o, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := c.Get(ctx, o.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		o.SetResourceVersion(cur.GetResourceVersion())
		_, err = c.Update(ctx, o, metav1.UpdateOptions{})
		return err
	})
}

// waitDeployment waits until the deployment's current generation has all
// its replicas updated and available.
func waitDeployment(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration >= d.Generation && d.Spec.Replicas != nil &&
			d.Status.UpdatedReplicas == *d.Spec.Replicas && d.Status.AvailableReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("deployment %s/%s not available after %s (last error: %v, status %+v)", ns, name, timeout, err, statusOf(d))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// waitDaemonSet waits until every scheduled pod of the daemon set's
// current generation is updated and ready.
func waitDaemonSet(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		d, err := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration >= d.Generation && d.Status.DesiredNumberScheduled > 0 &&
			d.Status.UpdatedNumberScheduled == d.Status.DesiredNumberScheduled && d.Status.NumberReady == d.Status.DesiredNumberScheduled {
			return nil
		}
		if time.Now().After(deadline) {
			var st any
			if d != nil {
				st = d.Status
			}
			return fmt.Errorf("daemon set %s/%s not ready after %s (last error: %v, status %+v)", ns, name, timeout, err, st)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func statusOf(d *appsv1.Deployment) any {
	if d == nil {
		return nil
	}
	return d.Status
}
