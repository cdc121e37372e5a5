package aadpodidentity

import (
	"encoding/json"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/idlab/idlab/internal/nodeagent"
)

// Names of the deployment: MIC's Deployment must be "mic" (NMI's isMIC
// takes its ReplicaSet's name prefix), NMI's DaemonSet "nmi", as upstream's
// deploy/infra/deployment-rbac.yaml.
const (
	MICName       = "mic"
	NMIName       = "nmi"
	AzureJSONMap  = "aad-pod-identity-azure-json"
	AzureJSONPath = "/etc/kubernetes/azure.json"
	// ProbePort is NMI's --http-probe-port in upstream's manifest.
	ProbePort = 8085
)

// CRDs are the four CustomResourceDefinitions (JSON, apiextensions.k8s.io/v1)
// of upstream's manifest, names, kinds and scope as there; the lab keeps
// spec and status unpruned (x-kubernetes-preserve-unknown-fields) instead
// of upstream's full schemas.
func CRDs() [][]byte {
	var out [][]byte
	for _, k := range []struct{ kind, plural string }{
		{"AzureIdentity", ResourceIdentities}, {"AzureIdentityBinding", ResourceBindings},
		{"AzureAssignedIdentity", ResourceAssigned}, {"AzurePodIdentityException", ResourceExceptions},
	} {
		open := map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
		crd := map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": k.plural + "." + Group, "annotations": map[string]string{"api-approved.kubernetes.io": "unapproved"}},
			"spec": map[string]any{
				"group": Group, "scope": "Namespaced",
				"names": map[string]any{"kind": k.kind, "listKind": k.kind + "List", "plural": k.plural, "singular": lower(k.kind)},
				"versions": []any{map[string]any{"name": Version, "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "properties": map[string]any{"spec": open, "status": open}}}}},
			},
		}
		b, _ := json.Marshal(crd)
		out = append(out, b)
	}
	return out
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ManifestOptions are the deployment's settings.
type ManifestOptions struct {
	Image, Namespace string
	// AzureJSON is the node's azure.json for MIC (ParseAzureConfig).
	AzureJSON []byte
	// CAConfigMap holds the lab CA under nodeagent.CAKey.
	CAConfigMap     string
	ForceNamespaced bool
	Retry           Retry
	// SyncInterval is MIC's polling period.
	SyncInterval string
}

// NMIArgs are NMI's flags, upstream's names.
func NMIArgs(o ManifestOptions) []string {
	a := []string{"aadpodidentity", "nmi", "--node=$(NODE_NAME)", "--http-probe-port=" + strconv.Itoa(ProbePort), "--metadata-header-required=true",
		"--MICNamespace=" + o.Namespace,
		"--retry-attempts-for-created=" + strconv.Itoa(o.Retry.AttemptsForCreated),
		"--retry-attempts-for-assigned=" + strconv.Itoa(o.Retry.AttemptsForAssigned),
		"--find-identity-retry-interval=" + strconv.Itoa(o.Retry.IntervalSeconds)}
	if o.ForceNamespaced {
		a = append(a, "--forceNamespaced")
	}
	return a
}

// MICArgs are MIC's flags.
func MICArgs(o ManifestOptions) []string {
	a := []string{"aadpodidentity", "mic", "--cloudconfig=" + AzureJSONPath, "--sync-interval=" + o.SyncInterval}
	if o.ForceNamespaced {
		a = append(a, "--forceNamespaced")
	}
	return a
}

// Manifests are MIC's and NMI's objects in apply order (the CRDs apart):
// azure.json, MIC's ServiceAccount, ClusterRole, binding and Deployment,
// then NMI's (nodeagent: a hostNetwork DaemonSet whose privileged init
// container installs the aad-metadata chain).
func Manifests(o ManifestOptions) []runtime.Object {
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: map[string]string{"app.kubernetes.io/part-of": "idlab", "k8s-app": "aad-pod-id"}}
	}
	crRule := func(verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{Group}, Resources: []string{ResourceIdentities, ResourceBindings, ResourceAssigned, ResourceExceptions}, Verbs: verbs}
	}
	micMeta := meta(MICName)
	micRole := &rbacv1.ClusterRole{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}, ObjectMeta: metav1.ObjectMeta{Name: "aad-pod-id-mic-role"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "nodes"}, Verbs: []string{"list", "watch"}}, crRule("*")}}
	micBinding := &rbacv1.ClusterRoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"}, ObjectMeta: metav1.ObjectMeta{Name: "aad-pod-id-mic-binding"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: micRole.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: MICName, Namespace: o.Namespace}}}
	one, ro := int32(1), true
	labels := map[string]string{"app": MICName, "component": MICName}
	mic := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: micMeta,
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				ServiceAccountName: MICName,
				Containers: []corev1.Container{{Name: MICName, Image: o.Image, ImagePullPolicy: corev1.PullIfNotPresent, Args: MICArgs(o),
					Env:             []corev1.EnvVar{{Name: "SSL_CERT_FILE", Value: nodeagent.CAFile}, {Name: "MIC_POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}},
					SecurityContext: &corev1.SecurityContext{ReadOnlyRootFilesystem: &ro},
					VolumeMounts: []corev1.VolumeMount{{Name: "k8s-azure-file", MountPath: AzureJSONPath, SubPath: "azure.json", ReadOnly: true},
						{Name: "lab-ca", MountPath: nodeagent.CADir, ReadOnly: true}}}},
				Volumes: []corev1.Volume{
					{Name: "k8s-azure-file", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: AzureJSONMap}}}},
					{Name: "lab-ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: o.CAConfigMap}}}}},
			}}}}
	objs := []runtime.Object{
		&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta(AzureJSONMap), Data: map[string]string{"azure.json": string(o.AzureJSON)}},
		&corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(MICName)},
		micRole, micBinding, mic,
	}
	nodeName := corev1.EnvVar{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}
	return append(objs, nodeagent.Agent{
		Name: NMIName, Namespace: o.Namespace, Image: o.Image,
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}, crRule("get", "list", "watch")},
		Init: corev1.Container{Name: "iptables", Args: []string{"aadpodidentity", "nmi-iptables", "--host-root=" + nodeagent.HostRoot,
			"--nmi-port=" + strconv.Itoa(NMIPort)}},
		Container: corev1.Container{Name: NMIName, Args: NMIArgs(o), Env: []corev1.EnvVar{nodeName},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(ProbePort)}}}},
	}.Objects()...)
}
