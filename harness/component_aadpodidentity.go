package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/components/aadpodidentity"
	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/internal/nodeagent"
)

// ComponentAADPodIdentity is AAD Pod Identity (MIC and NMI).
const ComponentAADPodIdentity = "aad-pod-identity"

// AADPodIdentityRetry are NMI's retries in the lab: 8 attempts for an
// identity in state Created and 4 more for Assigned, 1 s apart (upstream's
// defaults, 16 and 4 at 5 s, make a refusal take 80 s). Its refusal text
// names them.
var AADPodIdentityRetry = aadpodidentity.Retry{AttemptsForCreated: 8, AttemptsForAssigned: 4, IntervalSeconds: 1}

// aadPodIdentity runs AAD Pod Identity in standard mode as
// deploy/infra/deployment-rbac.yaml of Azure/aad-pod-identity v1.8.17
// does, in the lab's system namespace: its four CRDs, MIC (a Deployment
// named mic, whose azure.json names the kubelet identity, the node
// resource group and the node's scale set) and NMI (a hostNetwork
// DaemonSet listening on 127.0.0.1:2579 behind the aad-metadata chain).
// MIC only matches pods with an aadpodidbinding label; NMI answers every
// pod's 169.254.169.254 traffic, as upstream (no other suite's pod of the
// aks cluster asks IMDS).
type aadPodIdentity struct{}

func (aadPodIdentity) Name() string    { return ComponentAADPodIdentity }
func (aadPodIdentity) Cluster() string { return "aks" }

func (aadPodIdentity) Deploy(ctx context.Context, d *deployer) error {
	cs := d.cs
	if err := apply(ctx, cs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}}); err != nil {
		return err
	}
	for _, crd := range aadpodidentity.CRDs() {
		if err := applyCRD(ctx, cs, crd); err != nil {
			return err
		}
	}
	const caMap = "idlab-aadpodidentity-ca"
	if err := apply(ctx, cs, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: caMap, Namespace: SystemNamespace},
		Data: map[string]string{nodeagent.CAKey: string(d.ca.PEM)}}); err != nil {
		return err
	}
	for _, obj := range aadpodidentity.Manifests(aadPodIdentityOptions(d.cluster, d.image, caMap)) {
		if err := apply(ctx, cs, obj); err != nil {
			return err
		}
	}
	if err := waitDaemonSet(ctx, cs, SystemNamespace, aadpodidentity.NMIName, 2*time.Minute); err != nil {
		return err
	}
	return waitDeployment(ctx, cs, SystemNamespace, aadpodidentity.MICName, 2*time.Minute)
}

// aadPodIdentityOptions are the deployment's settings for cluster c.
func aadPodIdentityOptions(c ClusterConfig, image, caMap string) aadpodidentity.ManifestOptions {
	return aadpodidentity.ManifestOptions{Image: image, Namespace: SystemNamespace, AzureJSON: AzureJSON(c), CAConfigMap: caMap,
		Retry: AADPodIdentityRetry, SyncInterval: "2s"}
}

// AzureJSON is the aks node's /etc/kubernetes/azure.json as AKS writes it
// for a managed-identity cluster, with the fields MIC reads.
func AzureJSON(c ClusterConfig) []byte {
	b, _ := json.Marshal(aadpodidentity.AzureConfig{Cloud: "AzurePublicCloud", TenantID: c.Tenant, SubscriptionID: "00000000-0000-0000-0000-000000000000",
		ResourceGroupName: AKSNodeResourceGroup, VMType: "vmss", UseManagedIdentityExtension: true, UserAssignedIdentityID: KubeletClientID,
		PrimaryScaleSetName: cloud.ScaleSetOf(AzureVM(c.Name))})
	return b
}

// applyCRD creates a CustomResourceDefinition (JSON) or replaces it, then
// waits until the API serves it.
func applyCRD(ctx context.Context, cs kubernetes.Interface, crd []byte) error {
	var meta struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	if err := json.Unmarshal(crd, &meta); err != nil {
		return err
	}
	const base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
	rc := cs.Discovery().RESTClient()
	_, err := rc.Post().AbsPath(base).Body(crd).SetHeader("Content-Type", "application/json").DoRaw(ctx)
	if apierrors.IsAlreadyExists(err) {
		var cur map[string]any
		raw, gerr := rc.Get().AbsPath(base, meta.Metadata.Name).DoRaw(ctx)
		if gerr != nil {
			return fmt.Errorf("crd %s: %w", meta.Metadata.Name, gerr)
		}
		if err := json.Unmarshal(raw, &cur); err != nil {
			return err
		}
		var next map[string]any
		_ = json.Unmarshal(crd, &next)
		next["metadata"].(map[string]any)["resourceVersion"] = cur["metadata"].(map[string]any)["resourceVersion"]
		body, _ := json.Marshal(next)
		_, err = rc.Put().AbsPath(base, meta.Metadata.Name).Body(body).SetHeader("Content-Type", "application/json").DoRaw(ctx)
	}
	if err != nil {
		return fmt.Errorf("crd %s: %w", meta.Metadata.Name, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		raw, err := rc.Get().AbsPath(base, meta.Metadata.Name).DoRaw(ctx)
		if err == nil && crdEstablished(raw) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("crd %s not established after 1m (last error: %v)", meta.Metadata.Name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// crdEstablished reports whether a CRD's status has Established True.
func crdEstablished(raw []byte) bool {
	var c struct {
		Status struct {
			Conditions []struct{ Type, Status string } `json:"conditions"`
		} `json:"status"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return false
	}
	for _, cond := range c.Status.Conditions {
		if cond.Type == "Established" && cond.Status == "True" {
			return true
		}
	}
	return false
}
