package aadpodidentity

import (
	"net/http"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	readerClient = "1a1a1a1a-1a1a-41a1-81a1-1a1a1a1a1a1a"
	readerRID    = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/MC_idlab_aks_westus2/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aadpodid-reader"
)

func pod(ns, name, label, node string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{}}, Spec: corev1.PodSpec{NodeName: node}}
	if label != "" {
		p.Labels[BindingLabel] = label
	}
	return p
}

func identity(ns, name, client string, namespaced bool) AzureIdentity {
	id := AzureIdentity{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: AzureIdentitySpec{Type: UserAssignedMSI, ClientID: client, ResourceID: readerRID}}
	if namespaced {
		id.Annotations = map[string]string{BehaviorAnnotation: BehaviorNamespaced}
	}
	return id
}

func binding(ns, name, id, sel string) AzureIdentityBinding {
	return AzureIdentityBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: AzureIdentityBindingSpec{AzureIdentity: id, Selector: sel}}
}

// TestDesiredAssignments is every rule of MIC's matching.
func TestDesiredAssignments(t *testing.T) {
	ids := []AzureIdentity{identity("team-a", "reader", readerClient, false), identity("team-a", "strict", readerClient, true)}
	bindings := []AzureIdentityBinding{binding("team-a", "reader-binding", "reader", "reader"), binding("team-a", "strict-binding", "strict", "strict"),
		binding("team-a", "dangling", "deleted", "dangling")}
	for _, tc := range []struct {
		name  string
		pod   corev1.Pod
		force bool
		want  []string // assigned identity names, namespace/name
	}{
		{"label matches a binding", pod("team-a", "app", "reader", "node1"), false, []string{"default/app-team-a-reader"}},
		{"no label", pod("team-a", "app", "", "node1"), false, nil},
		{"label matches no binding", pod("team-a", "app", "nobody", "node1"), false, nil},
		{"not scheduled yet", pod("team-a", "app", "reader", ""), false, nil},
		{"binding names a missing identity", pod("team-a", "app", "dangling", "node1"), false, nil},
		{"other namespace copies the label", pod("team-b", "thief", "reader", "node1"), false, []string{"default/thief-team-b-reader"}},
		{"other namespace, forceNamespaced", pod("team-b", "thief", "reader", "node1"), true, nil},
		{"same namespace, forceNamespaced", pod("team-a", "app", "reader", "node1"), true, []string{"team-a/app-team-a-reader"}},
		{"namespaced identity, other namespace", pod("team-b", "thief", "strict", "node1"), false, nil},
		{"namespaced identity, same namespace", pod("team-a", "app", "strict", "node1"), false, []string{"team-a/app-team-a-strict"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DesiredAssignments([]corev1.Pod{tc.pod}, bindings, ids, tc.force, nil)
			var names []string
			for _, a := range got {
				names = append(names, a.Namespace+"/"+a.Name)
				require.Equal(t, tc.pod.Name, a.Spec.Pod)
				require.Equal(t, tc.pod.Namespace, a.Spec.PodNamespace)
				require.Equal(t, tc.pod.Spec.NodeName, a.Spec.NodeName)
				require.Equal(t, AssignedIDCreated, a.Status.Status)
				require.Equal(t, readerRID, a.Spec.AzureIdentityRef.Spec.ResourceID)
			}
			sort.Strings(names)
			require.Equal(t, tc.want, names)
		})
	}
}

func assigned(podNS, podName string, id AzureIdentity, state string) AzureAssignedIdentity {
	return AzureAssignedIdentity{Spec: AzureAssignedIdentitySpec{AzureIdentityRef: &id, Pod: podName, PodNamespace: podNS}, Status: AzureAssignedIdentityStatus{Status: state}}
}

// TestPodIdentity is every rule of NMI's choice of a pod's identity.
func TestPodIdentity(t *testing.T) {
	reader := identity("team-a", "reader", readerClient, false)
	other := identity("team-a", "other", "2b2b2b2b-2b2b-42b2-82b2-2b2b2b2b2b2b", false)
	other.Spec.ResourceID = "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other"
	strict := identity("team-a", "strict", readerClient, true)
	for _, tc := range []struct {
		name               string
		podNS              string
		list               []AzureAssignedIdentity
		client, resourceID string
		force              bool
		want               string // identity name; "" for a refusal
		errText            string
	}{
		{name: "assigned", podNS: "team-a", list: []AzureAssignedIdentity{assigned("team-a", "app", reader, AssignedIDAssigned)}, want: "reader"},
		{name: "none", podNS: "team-a", errText: "getting assigned identities for pod team-a/app in CREATED state failed after 0 attempts"},
		{name: "only created, not yet on the node", podNS: "team-a", list: []AzureAssignedIdentity{assigned("team-a", "app", reader, AssignedIDCreated)}, errText: "in ASSIGNED state failed"},
		{name: "another pod's", podNS: "team-a", list: []AzureAssignedIdentity{assigned("team-a", "other-pod", reader, AssignedIDAssigned)}, errText: "in CREATED state failed"},
		{name: "cross namespace, not namespaced", podNS: "team-b", list: []AzureAssignedIdentity{assigned("team-b", "app", reader, AssignedIDAssigned)}, want: "reader"},
		// MIC in the same mode never writes these; upstream indexes the
		// empty filtered list (standard.go GetIdentities).
		{name: "cross namespace, forceNamespaced", podNS: "team-b", list: []AzureAssignedIdentity{assigned("team-b", "app", reader, AssignedIDAssigned)}, force: true, errText: "index out of range [0] with length 0"},
		{name: "cross namespace, namespaced identity", podNS: "team-b", list: []AzureAssignedIdentity{assigned("team-b", "app", strict, AssignedIDAssigned)}, errText: "index out of range [0] with length 0"},
		{name: "cross namespace, namespaced identity asked by client id", podNS: "team-b", list: []AzureAssignedIdentity{assigned("team-b", "app", strict, AssignedIDAssigned)},
			client: readerClient, errText: "no azure identity found for request clientID 1a1a##### REDACTED #####1a1a"},
		{name: "first when none named", podNS: "team-a", list: []AzureAssignedIdentity{assigned("team-a", "app", other, AssignedIDAssigned), assigned("team-a", "app", reader, AssignedIDAssigned)}, want: "other"},
		{name: "by client id", podNS: "team-a", list: []AzureAssignedIdentity{assigned("team-a", "app", other, AssignedIDAssigned), assigned("team-a", "app", reader, AssignedIDAssigned)},
			client: readerClient, want: "reader"},
		// The retry loop finds it case-insensitively, the final pick
		// compares with == (standard.go GetIdentities, e4e7eab).
		{name: "by client id, other case", podNS: "team-a", list: []AzureAssignedIdentity{assigned("team-a", "app", other, AssignedIDAssigned), assigned("team-a", "app", reader, AssignedIDAssigned)},
			client: "1A1A1A1A-1A1A-41A1-81A1-1A1A1A1A1A1A", errText: "no azure identity found for request clientID 1A1A##### REDACTED #####1A1A"},
		{name: "by resource id", podNS: "team-a", list: []AzureAssignedIdentity{assigned("team-a", "app", reader, AssignedIDAssigned), assigned("team-a", "app", other, AssignedIDAssigned)},
			resourceID: other.Spec.ResourceID, want: "other"},
		{name: "client id not the pod's", podNS: "team-a", list: []AzureAssignedIdentity{assigned("team-a", "app", reader, AssignedIDAssigned)},
			client: "2b2b2b2b-2b2b-42b2-82b2-2b2b2b2b2b2b", errText: "clientID in request: 2b2b##### REDACTED #####2b2b, getting assigned identities for pod team-a/app in CREATED state failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PodIdentity(tc.podNS, "app", tc.list, tc.client, tc.resourceID, tc.force)
			if tc.errText != "" {
				require.ErrorContains(t, err, tc.errText)
				if err != ErrIndexOutOfRange {
					require.ErrorIs(t, err, ErrNoIdentity)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Name)
		})
	}
}

func TestRefusal(t *testing.T) {
	status, text := Refusal("idlab-aadpodid", "unbound", DefaultRetry)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "getting assigned identities for pod idlab-aadpodid/unbound in CREATED state failed after 16 attempts, retry duration [5]s, error: <nil>. Check MIC pod logs for identity assignment errors", text)
}

func TestExcepted(t *testing.T) {
	ex := []AzurePodIdentityException{{Spec: AzurePodIdentityExceptionSpec{PodLabels: map[string]string{"app": "mic", "component": "x"}}}}
	require.True(t, Excepted(map[string]string{"app": "MIC"}, ex), "one label, value in other case")
	require.False(t, Excepted(map[string]string{"app": "web"}, ex))
	require.False(t, Excepted(map[string]string{"app": "mic"}, nil))
}

func TestRedact(t *testing.T) {
	require.Equal(t, "1a1a##### REDACTED #####1a1a", redact(readerClient))
	require.Equal(t, "", redact(""))
	require.Equal(t, "abcdefg", redact("abcdefg"))
}

// TestChainRules are upstream's expected rules, as its comment in
// ensureCustomChain lists them.
func TestChainRules(t *testing.T) {
	require.Equal(t, []string{
		"-N aad-metadata",
		"-A aad-metadata ! -s 127.0.0.1/32 -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:2579",
		"-A aad-metadata -j RETURN",
	}, ChainRules("169.254.169.254", "80", "127.0.0.1", "2579"))
	require.Equal(t, []string{"PREROUTING", "-j", "aad-metadata"}, JumpRule())
}

func TestChainCommands(t *testing.T) {
	good := ChainRules("169.254.169.254", "80", "127.0.0.1", "2579")
	add := [][]string{{"-F", Chain},
		{"-A", Chain, "-p", "tcp", "!", "-s", "127.0.0.1/32", "-d", "169.254.169.254", "--dport", "80", "-j", "DNAT", "--to-destination", "127.0.0.1:2579"},
		{"-A", Chain, "-j", "RETURN"}}
	jump := []string{"-I", "PREROUTING", "1", "-j", Chain}
	for _, tc := range []struct {
		name         string
		listed       []string
		exists, jump bool
		want         [][]string
	}{
		{name: "fresh node", want: append(append([][]string{{"-N", Chain}}, add...), jump)},
		{name: "all in place", listed: good, exists: true, jump: true},
		{name: "chain right, jump gone (kube-proxy restart does not remove it; a node reboot does)", listed: good, exists: true, want: [][]string{jump}},
		{name: "other target port: rewritten", listed: ChainRules("169.254.169.254", "80", "127.0.0.1", "8080"), exists: true, jump: true, want: add},
		{name: "a rule missing", listed: good[:2], exists: true, jump: true, want: add},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ChainCommands(tc.listed, tc.exists, tc.jump, "169.254.169.254", "80", "127.0.0.1", "2579")
			require.Equal(t, tc.want, got)
		})
	}
}
