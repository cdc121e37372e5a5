package aadpodidentity

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Plural resource names of the CRDs.
const (
	ResourceIdentities  = "azureidentities"
	ResourceBindings    = "azureidentitybindings"
	ResourceAssigned    = "azureassignedidentities"
	ResourceExceptions  = "azurepodidentityexceptions"
	apiPrefix           = "/apis/" + Group + "/" + Version
	assignedIDFinalizer = "azureassignedidentity/finalizer"
)

// Kube reads pods and nodes with client-go and the CRDs over the API
// server's REST interface.
type Kube struct {
	CS kubernetes.Interface
	// REST reaches /apis/aadpodidentity.k8s.io/v1; defaults to the
	// clientset's discovery REST client.
	REST rest.Interface
}

func (k Kube) rest() rest.Interface {
	if k.REST != nil {
		return k.REST
	}
	return k.CS.Discovery().RESTClient()
}

func path(namespace, resource, name string) string {
	p := apiPrefix
	if namespace != "" {
		p += "/namespaces/" + namespace
	}
	p += "/" + resource
	if name != "" {
		p += "/" + name
	}
	return p
}

func list[T any](ctx context.Context, k Kube, namespace, resource string) ([]T, error) {
	raw, err := k.rest().Get().AbsPath(path(namespace, resource, "")).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", resource, err)
	}
	var l struct {
		Items []T `json:"items"`
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("list %s: %w", resource, err)
	}
	return l.Items, nil
}

// Identities lists every AzureIdentity.
func (k Kube) Identities(ctx context.Context) ([]AzureIdentity, error) {
	return list[AzureIdentity](ctx, k, "", ResourceIdentities)
}

// Bindings lists every AzureIdentityBinding.
func (k Kube) Bindings(ctx context.Context) ([]AzureIdentityBinding, error) {
	return list[AzureIdentityBinding](ctx, k, "", ResourceBindings)
}

// AssignedIdentities lists every AzureAssignedIdentity.
func (k Kube) AssignedIdentities(ctx context.Context) ([]AzureAssignedIdentity, error) {
	return list[AzureAssignedIdentity](ctx, k, "", ResourceAssigned)
}

// Exceptions lists the AzurePodIdentityExceptions of namespace.
func (k Kube) Exceptions(ctx context.Context, namespace string) ([]AzurePodIdentityException, error) {
	return list[AzurePodIdentityException](ctx, k, namespace, ResourceExceptions)
}

// CreateAssigned creates a, with upstream's finalizer (v1.6.1+).
func (k Kube) CreateAssigned(ctx context.Context, a AzureAssignedIdentity) error {
	a.Finalizers = append(a.Finalizers, assignedIDFinalizer)
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = k.rest().Post().AbsPath(path(a.Namespace, ResourceAssigned, "")).Body(body).SetHeader("Content-Type", "application/json").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("create AzureAssignedIdentity %s/%s: %w", a.Namespace, a.Name, err)
	}
	return nil
}

// SetAssignedStatus sets the status of the stored a to status.
func (k Kube) SetAssignedStatus(ctx context.Context, a AzureAssignedIdentity, status string) error {
	raw, err := k.rest().Get().AbsPath(path(a.Namespace, ResourceAssigned, a.Name)).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("get AzureAssignedIdentity %s/%s: %w", a.Namespace, a.Name, err)
	}
	var cur AzureAssignedIdentity
	if err := json.Unmarshal(raw, &cur); err != nil {
		return err
	}
	cur.Status.Status = status
	body, _ := json.Marshal(cur)
	if _, err := k.rest().Put().AbsPath(path(a.Namespace, ResourceAssigned, a.Name)).Body(body).SetHeader("Content-Type", "application/json").DoRaw(ctx); err != nil {
		return fmt.Errorf("failed to update AzureAssignedIdentity %s/%s status to %s: %w", a.Namespace, a.Name, status, err)
	}
	return nil
}

// DeleteAssigned removes the finalizer and deletes a.
func (k Kube) DeleteAssigned(ctx context.Context, a AzureAssignedIdentity) error {
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := k.rest().Patch("application/merge-patch+json").AbsPath(path(a.Namespace, ResourceAssigned, a.Name)).Body(patch).DoRaw(ctx); err != nil {
		return fmt.Errorf("remove finalizer of AzureAssignedIdentity %s/%s: %w", a.Namespace, a.Name, err)
	}
	if _, err := k.rest().Delete().AbsPath(path(a.Namespace, ResourceAssigned, a.Name)).DoRaw(ctx); err != nil {
		return fmt.Errorf("delete AzureAssignedIdentity %s/%s: %w", a.Namespace, a.Name, err)
	}
	return nil
}

// LabelledPods lists the pods that carry an aadpodidbinding label, the
// only ones MIC can match.
func (k Kube) LabelledPods(ctx context.Context) ([]corev1.Pod, error) {
	l, err := k.CS.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: BindingLabel})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out, nil
}

// ProviderIDs maps node names to their spec.providerID.
func (k Kube) ProviderIDs(ctx context.Context) (map[string]string, error) {
	l, err := k.CS.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, n := range l.Items {
		out[n.Name] = n.Spec.ProviderID
	}
	return out, nil
}

// Create posts obj (an AzureIdentity, AzureIdentityBinding or
// AzurePodIdentityException) as resource in namespace.
func (k Kube) Create(ctx context.Context, namespace, resource string, obj any) error {
	body, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	if _, err := k.rest().Post().AbsPath(path(namespace, resource, "")).Body(body).SetHeader("Content-Type", "application/json").DoRaw(ctx); err != nil {
		return fmt.Errorf("create %s in %s: %w", resource, namespace, err)
	}
	return nil
}
