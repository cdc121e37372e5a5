package aadpodidentity

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/aadpodidentity"
)

type pod struct{ ns, name, label string }

func corePods(ps []pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range ps {
		out = append(out, corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Name: p.name, Labels: map[string]string{aadpodidentity.BindingLabel: p.label}},
			Spec: corev1.PodSpec{NodeName: "aks-control-plane"}})
	}
	return out
}
