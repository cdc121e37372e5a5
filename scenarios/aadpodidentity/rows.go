// Package aadpodidentity is the AAD Pod Identity suite: in the lab's aks
// cluster MIC matches pods by their aadpodidbinding label, assigns the
// bound user-assigned identity to the node's scale set through Resource
// Manager (emulators/azurearm, with the kubelet identity's Virtual Machine
// Contributor and Managed Identity Operator), and NMI, behind the node's
// aad-metadata chain, answers pods' 169.254.169.254 token requests with
// that identity's token from the node's IMDS (emulators/azureimds); the
// blob service checks it like any Entra token. The rows: a bound pod
// reads its container; an unbound pod gets NMI's refusal; the two
// weaknesses upstream documents (a hostNetwork pod reaches IMDS itself,
// a pod of another namespace that copies the label gets the identity)
// with the namespaced counterpart; and the same app after its migration
// to Azure Workload Identity. Fixtures: fixtures/azure/lab.yaml.
package aadpodidentity

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/aadpodidentity"
)

// The suite's namespaces, identities and blobs (fixtures/azure/lab.yaml).
const (
	Suite      = "aadpodidentity"
	Mechanism  = "AAD Pod Identity"
	NS         = "idlab-aadpodid"
	NSB        = "idlab-aadpodid-b"
	Account    = "idlab"
	Storage    = "https://storage.azure.com/"
	ReaderID   = "1a1a1a1a-1a1a-41a1-81a1-1a1a1a1a1a1a"
	ReaderRID  = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/MC_idlab_aks_westus2/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aadpodid-reader"
	TeamBID    = "2b2b2b2b-2b2b-42b2-82b2-2b2b2b2b2b2b"
	TeamBRID   = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/MC_idlab_aks_westus2/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aadpodid-team-b"
	MigratedSA = "migrated"
)

// Identity is an AzureIdentity of type 0 (user-assigned), namespaced when
// asked (the Behavior annotation).
func Identity(ns, name, clientID, resourceID string, namespaced bool) aadpodidentity.AzureIdentity {
	id := aadpodidentity.AzureIdentity{TypeMeta: metav1.TypeMeta{APIVersion: aadpodidentity.Group + "/" + aadpodidentity.Version, Kind: "AzureIdentity"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       aadpodidentity.AzureIdentitySpec{Type: aadpodidentity.UserAssignedMSI, ClientID: clientID, ResourceID: resourceID}}
	if namespaced {
		id.Annotations = map[string]string{aadpodidentity.BehaviorAnnotation: aadpodidentity.BehaviorNamespaced}
	}
	return id
}

// Binding binds identity to the pods labelled aadpodidbinding=selector.
func Binding(ns, name, identity, selector string) aadpodidentity.AzureIdentityBinding {
	return aadpodidentity.AzureIdentityBinding{TypeMeta: metav1.TypeMeta{APIVersion: aadpodidentity.Group + "/" + aadpodidentity.Version, Kind: "AzureIdentityBinding"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       aadpodidentity.AzureIdentityBindingSpec{AzureIdentity: identity, Selector: selector}}
}

// AssignedName is the AzureAssignedIdentity MIC writes for a pod
// (POD-PODNAMESPACE-IDENTITY, upstream's makeAssignedIDs).
func AssignedName(pod, podNS, identity string) string { return pod + "-" + podNS + "-" + identity }

// RefusalText is NMI's refusal of a pod with no identity, as http.Error
// writes it, with the lab's retries (harness.AADPodIdentityRetry).
func RefusalText(podNS, pod string, r aadpodidentity.Retry) string {
	_, text := aadpodidentity.Refusal(podNS, pod, r)
	return text + "\n"
}

// NMILogShows reports whether NMI's log has a line about pod ("ns/name")
// with decision, in slog's text or JSON form.
func NMILogShows(log, pod, decision string) bool {
	for _, l := range strings.Split(log, "\n") {
		if (strings.Contains(l, "pod="+pod+" ") || strings.HasSuffix(l, "pod="+pod) || strings.Contains(l, `"pod":"`+pod+`"`)) &&
			(strings.Contains(l, "decision="+decision) || strings.Contains(l, `"decision":"`+decision+`"`)) {
			return true
		}
	}
	return false
}

// Reason is a row's evidence line.
func Reason(parts ...string) string { return strings.Join(parts, "; ") }

// Count says how many decisions a row saw.
func Count(what string, n int) string { return fmt.Sprintf("%s: %d", what, n) }
