package aadpodidentity

import (
	"log/slog"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Match is one pod's match to an identity through a binding, with the
// reason, for MIC's log.
type Match struct {
	Assigned AzureAssignedIdentity
	Reason   string
}

// DesiredAssignments is MIC's createDesiredAssignedIdentityList: for each
// scheduled pod with an aadpodidbinding label, each binding whose selector
// equals it (bindings sorted by namespace and name, as upstream's
// AzureIdentityBindings sort) gives an assigned identity for the binding's
// identity in the binding's namespace; in namespaced mode (force, or the
// identity's Behavior annotation) identity, binding and pod must share a
// namespace. The first of two assignments with one name wins (upstream's
// issue 1065 warning). log may be nil.
func DesiredAssignments(pods []corev1.Pod, bindings []AzureIdentityBinding, identities []AzureIdentity, forceNamespaced bool, log *slog.Logger) map[string]AzureAssignedIdentity {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ids := map[string]AzureIdentity{}
	for _, id := range identities {
		ids[id.Namespace+"/"+id.Name] = id
	}
	sorted := append([]AzureIdentityBinding(nil), bindings...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Namespace != sorted[j].Namespace {
			return sorted[i].Namespace < sorted[j].Namespace
		}
		return sorted[i].Name < sorted[j].Name
	})
	out := map[string]AzureAssignedIdentity{}
	for _, pod := range pods {
		sel := pod.Labels[BindingLabel]
		if pod.Spec.NodeName == "" || sel == "" {
			continue
		}
		for _, b := range sorted {
			if b.Spec.Selector != sel {
				continue
			}
			id, ok := ids[b.Namespace+"/"+b.Spec.AzureIdentity]
			if !ok {
				log.Info("mic: binding names no identity", "binding", b.Namespace+"/"+b.Name, "identity", b.Spec.AzureIdentity)
				continue
			}
			namespaced := isNamespaced(&id, forceNamespaced)
			if namespaced && !(id.Namespace == b.Namespace && b.Namespace == pod.Namespace) {
				log.Info("mic: namespaced identity not matched across namespaces", "decision", "deny", "pod", pod.Namespace+"/"+pod.Name,
					"identity", id.Namespace+"/"+id.Name, "binding", b.Namespace+"/"+b.Name)
				continue
			}
			a := assignedIdentity(id, b, pod, namespaced)
			if _, dup := out[a.Name]; dup {
				continue
			}
			out[a.Name] = a
			log.Info("mic: identity matched", "decision", "allow", "pod", pod.Namespace+"/"+pod.Name,
				"identity", id.Namespace+"/"+id.Name, "binding", b.Namespace+"/"+b.Name, "node", pod.Spec.NodeName)
		}
	}
	return out
}

// assignedIdentity is upstream's makeAssignedIDs: named
// POD-PODNAMESPACE-IDENTITY, in namespace "default" unless namespaced,
// status Created.
func assignedIdentity(id AzureIdentity, b AzureIdentityBinding, pod corev1.Pod, namespaced bool) AzureAssignedIdentity {
	ns := "default"
	if namespaced {
		ns = id.Namespace
	}
	idRef, bRef := id, b
	return AzureAssignedIdentity{
		TypeMeta:   metav1.TypeMeta{APIVersion: Group + "/" + Version, Kind: "AzureAssignedIdentity"},
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name + "-" + pod.Namespace + "-" + id.Name, Namespace: ns, Labels: map[string]string{"nodename": pod.Spec.NodeName}},
		Spec: AzureAssignedIdentitySpec{AzureIdentityRef: &idRef, AzureBindingRef: &bRef,
			Pod: pod.Name, PodNamespace: pod.Namespace, NodeName: pod.Spec.NodeName},
		Status: AzureAssignedIdentityStatus{Status: AssignedIDCreated, AvailableReplicas: 1},
	}
}
