package harness

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/components/gkemetadata"
	"github.com/idlab/idlab/components/gtoken"
	"github.com/idlab/idlab/components/irsawebhook"
	"github.com/idlab/idlab/internal/certs"
)

// Pod-identity components the lab can deploy into a cluster.
const (
	ComponentIRSAWebhook = "irsa-webhook"
	ComponentGKEMetadata = "gke-metadata"
	ComponentGToken      = "gtoken"
)

// labCAConfigMap holds the lab CA in SystemNamespace for components that
// call the emulated clouds.
const labCAConfigMap = "idlab-ca"

// SystemNamespace holds the lab's in-cluster components.
const SystemNamespace = "idlab-system"

// deployComponents loads the idlab image into every cluster that runs an
// in-cluster component and deploys those components, waiting until they
// serve: a webhook with failurePolicy Ignore that is not yet ready would let
// pods through unmutated, and scenarios would fail for the wrong reason.
func (l *Lab) deployComponents(ctx context.Context, ca *certs.CA, image string) error {
	errs := make([]error, len(l.cfg.Clusters))
	var wg sync.WaitGroup
	for i, c := range l.cfg.Clusters {
		if len(c.Components) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.deployClusterComponents(ctx, ca, image, c); err != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", c.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deployClusterComponents loads the image into c and deploys c's components.
func (l *Lab) deployClusterComponents(ctx context.Context, ca *certs.CA, image string, c ClusterConfig) error {
	if err := l.kind.LoadImages(ctx, c.Name, image); err != nil {
		return fmt.Errorf("load %s: %w", image, err)
	}
	cs, err := l.clientset(ctx, c.Name)
	if err != nil {
		return err
	}
	if slices.Contains(c.Components, ComponentIRSAWebhook) {
		if err := deployIRSAWebhook(ctx, cs, ca, image, c.Region); err != nil {
			return fmt.Errorf("irsa webhook: %w", err)
		}
	}
	if slices.Contains(c.Components, ComponentPodIdentity) {
		if err := l.deployPodIdentity(ctx, cs, ca, image, c); err != nil {
			return fmt.Errorf("eks pod identity: %w", err)
		}
	}
	if slices.Contains(c.Components, ComponentGKEMetadata) {
		if err := deployGKEMetadata(ctx, cs, ca, image, c); err != nil {
			return fmt.Errorf("gke metadata server: %w", err)
		}
	}
	if slices.Contains(c.Components, ComponentAzureWebhook) {
		if err := deployAzureWebhook(ctx, cs, ca, image); err != nil {
			return fmt.Errorf("azure workload identity webhook: %w", err)
		}
	}
	if slices.Contains(c.Components, ComponentKube2iam) {
		if err := deployKube2iam(ctx, cs, ca, image, c); err != nil {
			return fmt.Errorf("kube2iam: %w", err)
		}
	}
	if slices.Contains(c.Components, ComponentGToken) {
		if err := deployGToken(ctx, cs, ca, image, l.cfg.IdlabBinary, c.Name, l.kind); err != nil {
			return fmt.Errorf("gtoken webhook: %w", err)
		}
	}
	return nil
}

// deployGToken runs the gtoken webhook; the token writer it injects is the
// idlab binary installed as /gtoken in an image of its own.
func deployGToken(ctx context.Context, cs kubernetes.Interface, ca *certs.CA, image, idlabBinary, cluster string, kind imageLoader) error {
	writer, err := scratchImage(ctx, "idlab/gtoken", idlabBinary, "gtoken")
	if err != nil {
		return err
	}
	if err := kind.LoadImages(ctx, cluster, writer); err != nil {
		return fmt.Errorf("load %s: %w", writer, err)
	}
	if err := deployWebhookServer(ctx, cs, ca, gtoken.Name, gtoken.ServiceHosts(SystemNamespace),
		gtoken.TLSSecret, gtoken.Manifests(image, writer, SystemNamespace, ca.PEM)); err != nil {
		return err
	}
	return waitMutates(ctx, cs, gtokenCheck(), webhookWait, time.Second)
}

// imageLoader loads local images into a cluster (the kind provider).
type imageLoader interface {
	LoadImages(ctx context.Context, cluster string, images ...string) error
}

// deployIRSAWebhook runs `idlab irsa-webhook` as EKS runs the pod identity
// webhook: with the cluster's region and regional STS endpoints.
func deployIRSAWebhook(ctx context.Context, cs kubernetes.Interface, ca *certs.CA, image, region string) error {
	if err := deployWebhookServer(ctx, cs, ca, irsawebhook.Name, irsawebhook.ServiceHosts(irsawebhook.Name, SystemNamespace),
		irsawebhook.TLSSecret, irsawebhook.Manifests(image, SystemNamespace, ca.PEM),
		"--aws-default-region="+region, "--sts-regional-endpoint=true"); err != nil {
		return err
	}
	return waitMutates(ctx, cs, irsaCheck(), webhookWait, time.Second)
}

// webhookWait bounds how long `idlab up` waits for a webhook to mutate its
// dry-run pod (a few seconds in lab runs).
const webhookWait = time.Minute

// webhookCheck is a dry-run pod a pod-identity webhook must mutate: a
// ServiceAccount the webhook acts on, a pod of it, and the mark the
// mutation leaves.
type webhookCheck struct {
	webhook string // for the error: "the IRSA webhook"
	sa      *corev1.ServiceAccount
	pod     *corev1.Pod
	mutated func(*corev1.Pod) bool
}

// newWebhookCheck names the ServiceAccount and pod idlab-ready-COMPONENT
// in SystemNamespace; the pod carries podLabels.
func newWebhookCheck(component, webhook string, saAnnotations, podLabels map[string]string, mutated func(*corev1.Pod) bool) webhookCheck {
	name := "idlab-ready-" + component
	return webhookCheck{webhook: webhook, mutated: mutated,
		sa: &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: SystemNamespace, Annotations: saAnnotations}},
		pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: SystemNamespace, Labels: podLabels},
			Spec: corev1.PodSpec{ServiceAccountName: name, Containers: []corev1.Container{{Name: "c", Image: name}}}}}
}

// hasEnv reports whether the pod's first container has the variable name.
func hasEnv(name string) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool {
		return len(p.Spec.Containers) > 0 && slices.ContainsFunc(p.Spec.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == name })
	}
}

// irsaCheck: an annotated ServiceAccount's pod gets AWS_ROLE_ARN.
func irsaCheck() webhookCheck {
	return newWebhookCheck(ComponentIRSAWebhook, "the IRSA webhook",
		map[string]string{irsawebhook.AnnotationRoleARN: "arn:aws:iam::000000000000:role/idlab-ready"}, nil, hasEnv(irsawebhook.EnvRoleARN))
}

// gtokenCheck: an annotated ServiceAccount's pod gets AWS_ROLE_ARN (with
// the Google ID token's file and containers).
func gtokenCheck() webhookCheck {
	return newWebhookCheck(ComponentGToken, "the gtoken webhook",
		map[string]string{gtoken.AnnotationRoleARN: "arn:aws:iam::000000000000:role/idlab-ready"}, nil, hasEnv(gtoken.EnvRoleARN))
}

// waitMutates waits until the API server really calls the webhook c is
// for. An available Deployment is not enough: the Service's endpoints
// reach the node's proxy a moment later, and until then a webhook with
// failurePolicy Ignore (IRSA, gtoken) lets pods through unmutated and one
// with Fail (Azure) refuses them, so a pod created right after `idlab up`
// was admitted unmutated (the irsabugs suite's first pod once had no
// credentials). It creates c's pod in dry-run (admission runs, nothing is
// stored) until one comes back mutated, polling every interval for at most
// timeout.
func waitMutates(ctx context.Context, cs kubernetes.Interface, c webhookCheck, timeout, every time.Duration) error {
	if err := apply(ctx, cs, c.sa); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		got, err := cs.CoreV1().Pods(SystemNamespace).Create(ctx, c.pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && c.mutated(got) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not mutate a dry-run pod within %s (last error: %v)", c.webhook, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// deployWebhookServer applies the webhook's serving certificate (for hosts,
// packed by secret) and its objects, with extraArgs for its container, and
// waits until its Deployment is available.
func deployWebhookServer(ctx context.Context, cs kubernetes.Interface, ca *certs.CA, name string, hosts []string,
	secret func(string, tls.Certificate) (*corev1.Secret, error), objs []runtime.Object, extraArgs ...string) error {
	if err := apply(ctx, cs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}}); err != nil {
		return err
	}
	cert, err := ca.Issue(hosts...)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	sec, err := secret(SystemNamespace, cert)
	if err != nil {
		return err
	}
	if err := apply(ctx, cs, sec); err != nil {
		return err
	}
	for _, obj := range objs {
		if d, ok := obj.(*appsv1.Deployment); ok {
			ctr := &d.Spec.Template.Spec.Containers[0]
			ctr.Args = append(ctr.Args, extraArgs...)
			d.Spec.Template.Annotations = labCAStamp(ca)
		}
		if err := apply(ctx, cs, obj); err != nil {
			return err
		}
	}
	return waitDeployment(ctx, cs, SystemNamespace, name, 2*time.Minute)
}

// labCAStamp annotates a component's pods with the lab CA, so a new CA
// restarts them; a new leaf of the same CA need not, as the old one stays
// valid.
func labCAStamp(ca *certs.CA) map[string]string {
	sum := sha256.Sum256(ca.Cert.Raw)
	return map[string]string{"idlab.dev/lab-ca": hex.EncodeToString(sum[:8])}
}

// deployGKEMetadata runs the GKE metadata server on every node of c, with
// the DNAT that sends pods' 169.254.169.254 traffic to it, as GKE does for
// Workload Identity node pools. The Google project is the lab's "idlab".
func deployGKEMetadata(ctx context.Context, cs kubernetes.Interface, ca *certs.CA, image string, c ClusterConfig) error {
	if err := apply(ctx, cs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}}); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: labCAConfigMap, Namespace: SystemNamespace},
		Data: map[string]string{gkemetadata.CAKey: string(ca.PEM)}}
	if err := apply(ctx, cs, cm); err != nil {
		return err
	}
	opts := gkemetadata.ManifestOptions{ProjectID: GoogleProject, ProjectNumber: GoogleProjectNumber,
		ClusterName: c.Name, ClusterLocation: c.Region, IssuerURL: c.IssuerURL, CAConfigMap: labCAConfigMap}
	for _, obj := range gkemetadata.Manifests(image, SystemNamespace, opts) {
		if ds, ok := obj.(*appsv1.DaemonSet); ok {
			ds.Spec.Template.Annotations = labCAStamp(ca)
			// The node's Google identity: the metadata server's own KSA,
			// bound in fixtures/gcp to GoogleNodeServiceAccount.
			ctr := &ds.Spec.Template.Spec.Containers[0]
			ctr.Args = append(ctr.Args, "--node-ksa="+SystemNamespace+"/"+gkemetadata.Name, "--node-service-account="+GoogleNodeServiceAccount)
		}
		if err := apply(ctx, cs, obj); err != nil {
			return err
		}
	}
	return waitDaemonSet(ctx, cs, SystemNamespace, gkemetadata.Name, 2*time.Minute)
}

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

// upsert creates o or updates the existing object over its resource version.
func upsert[T object](ctx context.Context, o T, c client[T]) error {
	_, err := c.Create(ctx, o, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	cur, err := c.Get(ctx, o.GetName(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	o.SetResourceVersion(cur.GetResourceVersion())
	_, err = c.Update(ctx, o, metav1.UpdateOptions{})
	return err
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
