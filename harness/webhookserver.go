package harness

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/internal/certs"
)

// webhookWait bounds how long `idlab up` waits for a webhook to mutate its
// dry-run pod (a few seconds in lab runs).
const webhookWait = time.Minute

// webhookCheck is a dry-run pod a pod-identity webhook must mutate: a
// ServiceAccount the webhook acts on, a pod of it, and the mark the
// mutation leaves.
type webhookCheck struct {
	webhook string // for the error: "the IRSA webhook"
	// ns, when set, is the namespace of sa and pod, applied first (by
	// default they live in SystemNamespace).
	ns      *corev1.Namespace
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
	if c.ns != nil {
		if err := apply(ctx, cs, c.ns); err != nil {
			return err
		}
	}
	if err := apply(ctx, cs, c.sa); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		got, err := cs.CoreV1().Pods(c.pod.Namespace).Create(ctx, c.pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
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
			if d.Spec.Template.Annotations == nil {
				d.Spec.Template.Annotations = map[string]string{}
			}
			maps.Copy(d.Spec.Template.Annotations, labCAStamp(ca))
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
