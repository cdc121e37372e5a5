package aadpodidentity

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group and Version of the CRDs, as upstream's
// config/crd/aadpodidentity.k8s.io.yaml.
const (
	Group   = "aadpodidentity.k8s.io"
	Version = "v1"
)

// Labels and annotations upstream reads (pkg/apis/aadpodidentity/types.go).
const (
	// BindingLabel on a pod names the binding selector it matches.
	BindingLabel = "aadpodidbinding"
	// BehaviorAnnotation: namespaced on an AzureIdentity matches it to
	// pods of its own namespace only.
	BehaviorAnnotation = "aadpodidentity.k8s.io/Behavior"
	BehaviorNamespaced = "namespaced"
)

// IdentityType is spec.type of an AzureIdentity: 0 a user-assigned
// managed identity (the only type the lab implements), 1 a service
// principal, 2 a service principal with a certificate.
type IdentityType int

// UserAssignedMSI is IdentityType 0.
const UserAssignedMSI IdentityType = 0

// States of an AzureAssignedIdentity's status.status.
const (
	AssignedIDCreated    = "Created"
	AssignedIDAssigned   = "Assigned"
	AssignedIDUnAssigned = "Unassigned"
)

// AzureIdentity is one Azure identity pods may use.
type AzureIdentity struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AzureIdentitySpec `json:"spec,omitempty"`
}

// AzureIdentitySpec: the identity's type, ARM resource ID and client ID.
type AzureIdentitySpec struct {
	Type       IdentityType `json:"type,omitempty"`
	ResourceID string       `json:"resourceID,omitempty"`
	ClientID   string       `json:"clientID,omitempty"`
}

// AzureIdentityBinding binds an AzureIdentity (by name, in the binding's
// namespace) to the pods whose aadpodidbinding label equals Selector.
type AzureIdentityBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AzureIdentityBindingSpec `json:"spec,omitempty"`
}

// AzureIdentityBindingSpec names the identity and the label value.
type AzureIdentityBindingSpec struct {
	AzureIdentity string `json:"azureIdentity,omitempty"`
	Selector      string `json:"selector,omitempty"`
}

// AzureAssignedIdentity records that MIC matched a pod to an identity on
// a node.
type AzureAssignedIdentity struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AzureAssignedIdentitySpec   `json:"spec,omitempty"`
	Status            AzureAssignedIdentityStatus `json:"status,omitempty"`
}

// AzureAssignedIdentitySpec: the identity and binding as MIC saw them,
// and the pod and its node.
type AzureAssignedIdentitySpec struct {
	AzureIdentityRef *AzureIdentity        `json:"azureIdentityRef,omitempty"`
	AzureBindingRef  *AzureIdentityBinding `json:"azureBindingRef,omitempty"`
	Pod              string                `json:"pod,omitempty"`
	PodNamespace     string                `json:"podNamespace,omitempty"`
	NodeName         string                `json:"nodename,omitempty"`
}

// AzureAssignedIdentityStatus: Created, then Assigned once the identity is
// on the node.
type AzureAssignedIdentityStatus struct {
	Status            string `json:"status,omitempty"`
	AvailableReplicas int32  `json:"availableReplicas,omitempty"`
}

// AzurePodIdentityException lets pods whose labels include PodLabels use
// the node's own identities through NMI, unchecked.
type AzurePodIdentityException struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AzurePodIdentityExceptionSpec `json:"spec,omitempty"`
}

// AzurePodIdentityExceptionSpec holds the labels.
type AzurePodIdentityExceptionSpec struct {
	PodLabels map[string]string `json:"podLabels,omitempty"`
}

// isNamespaced reports whether id is matched within its namespace only.
func isNamespaced(id *AzureIdentity, force bool) bool {
	return force || id.Annotations[BehaviorAnnotation] == BehaviorNamespaced
}
