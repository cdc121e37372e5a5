package aadpodidentity

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/components/aadpodidentity"
	"github.com/idlab/idlab/harness"
)

func TestRefusalText(t *testing.T) {
	require.Equal(t, "getting assigned identities for pod idlab-aadpodid/unbound in CREATED state failed after 8 attempts, retry duration [1]s, error: <nil>. Check MIC pod logs for identity assignment errors\n",
		RefusalText(NS, "unbound", harness.AADPodIdentityRetry))
}

func TestNMILogShows(t *testing.T) {
	text := `time=2026-06-15T09:27:25Z level=INFO msg="nmi: no identity for pod" decision=deny pod=idlab-aadpodid/unbound reason="getting ..."`
	js := `{"time":"2026","level":"INFO","msg":"nmi: pod matched with azure identity","decision":"allow","pod":"idlab-aadpodid/bound"}`
	require.True(t, NMILogShows(text, "idlab-aadpodid/unbound", "deny"))
	require.False(t, NMILogShows(text, "idlab-aadpodid/unbound", "allow"))
	require.False(t, NMILogShows(text, "idlab-aadpodid/unb", "deny"), "a prefix of the pod's name is another pod")
	require.True(t, NMILogShows(js, "idlab-aadpodid/bound", "allow"))
	require.False(t, NMILogShows(js+"\n"+text, "idlab-aadpodid/bound", "deny"))
}

func TestObjects(t *testing.T) {
	id := Identity(NSB, "team-b-strict", TeamBID, TeamBRID, true)
	require.Equal(t, aadpodidentity.BehaviorNamespaced, id.Annotations[aadpodidentity.BehaviorAnnotation])
	require.Equal(t, "AzureIdentity", id.Kind)
	require.Equal(t, "copycat-idlab-aadpodid-team-b", AssignedName("copycat", NS, "team-b"))
	// MIC's rule, through the same matching the component runs: a pod of
	// NS copying NSB's label gets NSB's identity unless it is namespaced.
	pods := []pod{{NS, "copycat", "team-b"}, {NS, "copycat-strict", "team-b-strict"}}
	got := aadpodidentity.DesiredAssignments(corePods(pods), []aadpodidentity.AzureIdentityBinding{
		Binding(NSB, "team-b", "team-b", "team-b"), Binding(NSB, "team-b-strict", "team-b-strict", "team-b-strict")},
		[]aadpodidentity.AzureIdentity{Identity(NSB, "team-b", TeamBID, TeamBRID, false), id}, false, nil)
	require.Len(t, got, 1)
	require.Contains(t, got, AssignedName("copycat", NS, "team-b"))
}
