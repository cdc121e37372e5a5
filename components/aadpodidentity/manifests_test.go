package aadpodidentity

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestManifests(t *testing.T) {
	o := ManifestOptions{Image: "idlab:dev", Namespace: "idlab-system", AzureJSON: []byte(`{"useManagedIdentityExtension":true}`), CAConfigMap: "ca",
		Retry: Retry{AttemptsForCreated: 8, AttemptsForAssigned: 4, IntervalSeconds: 1}, SyncInterval: "2s"}
	var mic *appsv1.Deployment
	var nmi *appsv1.DaemonSet
	var cm *corev1.ConfigMap
	for _, obj := range Manifests(o) {
		switch v := obj.(type) {
		case *appsv1.Deployment:
			mic = v
		case *appsv1.DaemonSet:
			nmi = v
		case *corev1.ConfigMap:
			cm = v
		}
	}
	require.Equal(t, "mic", mic.Name, "NMI's isMIC needs a ReplicaSet named mic-...")
	require.Equal(t, []string{"aadpodidentity", "mic", "--cloudconfig=/etc/kubernetes/azure.json", "--sync-interval=2s"}, mic.Spec.Template.Spec.Containers[0].Args)
	require.Equal(t, string(o.AzureJSON), cm.Data["azure.json"])
	require.True(t, nmi.Spec.Template.Spec.HostNetwork)
	require.Equal(t, []string{"aadpodidentity", "nmi", "--node=$(NODE_NAME)", "--http-probe-port=8085", "--metadata-header-required=true",
		"--MICNamespace=idlab-system", "--retry-attempts-for-created=8", "--retry-attempts-for-assigned=4", "--find-identity-retry-interval=1"},
		nmi.Spec.Template.Spec.Containers[0].Args)
	require.True(t, *nmi.Spec.Template.Spec.InitContainers[0].SecurityContext.Privileged, "the chain is installed by the privileged init container")
	o.ForceNamespaced = true
	require.Contains(t, NMIArgs(o), "--forceNamespaced")
	require.Contains(t, MICArgs(o), "--forceNamespaced")

	var names []string
	for _, raw := range CRDs() {
		var crd struct {
			Metadata struct{ Name string }
			Spec     struct {
				Scope string
				Names struct{ Kind string }
			}
		}
		require.NoError(t, json.Unmarshal(raw, &crd))
		require.Equal(t, "Namespaced", crd.Spec.Scope)
		names = append(names, crd.Metadata.Name+" "+crd.Spec.Names.Kind)
	}
	require.Equal(t, []string{"azureidentities.aadpodidentity.k8s.io AzureIdentity", "azureidentitybindings.aadpodidentity.k8s.io AzureIdentityBinding",
		"azureassignedidentities.aadpodidentity.k8s.io AzureAssignedIdentity", "azurepodidentityexceptions.aadpodidentity.k8s.io AzurePodIdentityException"}, names)
}
