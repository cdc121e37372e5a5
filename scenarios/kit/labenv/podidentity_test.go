package labenv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/idlab/idlab/components/irsawebhook"
	"github.com/idlab/idlab/emulators/eksauth"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/idlabtest"
)

// TestAddPodIdentityAssociation goes through a real cloud's admin API: the
// association is listed once added and gone once deleted; a second one for
// the same service account is refused.
func TestAddPodIdentityAssociation(t *testing.T) {
	ctx := context.Background()
	c := idlabtest.NewCloud(t, idlabtest.CloudOptions{EKSFixtures: "../../../fixtures/eks"})
	admin := AdminFunc(c.AdminJSON)
	a := eksauth.Association{ClusterName: "eks", Namespace: "idlab-podid-race-0a1b2c", ServiceAccount: "app", RoleARN: "arn:aws:iam::123456789012:role/podid-app"}
	added, err := AddPodIdentityAssociation(ctx, admin, a)
	require.NoError(t, err)
	require.Regexp(t, `^a-[0-9a-z]{17}$`, added.ID)
	require.Equal(t, "arn:aws:eks:us-west-2:123456789012:podidentityassociation/eks/"+added.ID, added.ARN)
	require.Contains(t, c.EKS.Associations(), added)

	_, err = AddPodIdentityAssociation(ctx, admin, a)
	require.ErrorContains(t, err, "add pod identity association idlab-podid-race-0a1b2c/app: POST /_idlab/eks-auth/associations: HTTP 409")

	require.NoError(t, DeletePodIdentityAssociation(ctx, admin, added.ID))
	require.NotContains(t, c.EKS.Associations(), added)
	require.ErrorContains(t, DeletePodIdentityAssociation(ctx, admin, added.ID), "HTTP 404")
}

// TestAddWebhookIdentities: the identity is in the ConfigMap while the test
// runs, exactly the content returned, and gone after.
func TestAddWebhookIdentities(t *testing.T) {
	ctx := context.Background()
	shipped := `{"identities":[{"namespace":"idlab-podid","serviceAccount":"app"}]}`
	cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: harness.PodIdentityConfigMap, Namespace: harness.SystemNamespace},
		Data: map[string]string{harness.PodIdentityConfigKey: shipped}})
	c := &Cluster{Name: "eks", CS: cs}
	current := func() string {
		cm, err := cs.CoreV1().ConfigMaps(harness.SystemNamespace).Get(ctx, harness.PodIdentityConfigMap, metav1.GetOptions{})
		require.NoError(t, err)
		return cm.Data[harness.PodIdentityConfigKey]
	}
	t.Run("while the test runs", func(t *testing.T) {
		raw := c.AddWebhookIdentities(ctx, t, harness.WebhookIdentity{Namespace: "idlab-podid-race", ServiceAccount: "app"})
		require.Equal(t, `{"identities":[{"namespace":"idlab-podid","serviceAccount":"app"},{"namespace":"idlab-podid-race","serviceAccount":"app"}]}`, string(raw))
		require.Equal(t, string(raw), current())
	})
	require.Equal(t, shipped, current(), "taken out again when the test ended")
}

// webhookLog writes lines as the webhook's slog JSON handler does.
func webhookLog(lines ...string) []byte {
	return []byte(strings.Join(lines, "\n") + "\n")
}

func loadLine(at, digest string, n int) string {
	return fmt.Sprintf(`{"time":%q,"level":"INFO","msg":%q,"file":"/etc/eks/pod-identity/config.json","identities":%d,"sha256":%q}`,
		at, irsawebhook.ConfigLoadMessage, n, digest)
}

func admissionLine(at, ns, pod string, mutated bool, reason string) string {
	return fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"admission","namespace":%q,"pod":%q,"request_id":"uid-%s","mutated":%v,"reason":%q}`,
		at, ns, pod, pod, mutated, reason)
}

func TestLoadedEverywhere(t *testing.T) {
	logs := map[string][]byte{
		"webhook-b": webhookLog(loadLine("2026-12-07T02:00:00.100Z", "old", 2), loadLine("2026-12-07T02:01:05.250Z", "new", 3)),
		"webhook-a": webhookLog(loadLine("2026-12-07T02:01:04.000Z", "new", 3), "not json"),
		"webhook-c": webhookLog(loadLine("2026-12-07T02:00:00.100Z", "old", 2)),
	}
	latest, missing := LoadedEverywhere(logs, "new")
	require.Equal(t, []string{"webhook-c"}, missing)
	require.Equal(t, time.Date(2026, 12, 7, 2, 1, 5, 250e6, time.UTC), latest)
	delete(logs, "webhook-c")
	_, missing = LoadedEverywhere(logs, "new")
	require.Empty(t, missing)
	latest, missing = LoadedEverywhere(logs, "never")
	require.Equal(t, []string{"webhook-a", "webhook-b"}, missing)
	require.True(t, latest.IsZero())
	_, missing = LoadedEverywhere(nil, "new")
	require.Empty(t, missing, "no webhook pod: nothing to wait for (IRSAWebhookLogs refuses that)")
}

func TestOrderOf(t *testing.T) {
	const ns, digest = "idlab-podid-race-0a1b2c", "d1"
	noAssoc := "service account has no pod identity association and no role-arn annotation, or does not exist"
	logs := map[string][]byte{
		"webhook-0": webhookLog(
			loadLine("2026-12-07T02:00:00.000Z", "d0", 2),
			admissionLine("2026-12-07T02:00:10.000Z", ns, "none-race", false, noAssoc),
			admissionLine("2026-12-07T02:00:20.000Z", ns, "irsa-race", true, "sts_web_identity"),
			loadLine("2026-12-07T02:01:00.500Z", digest, 3),
			admissionLine("2026-12-07T02:01:00.500Z", ns, "none-after", true, "container_credentials"),
			admissionLine("2026-12-07T02:01:01.000Z", ns, "reinvoked", true, "container_credentials"),
			loadLine("2026-12-07T02:01:02.000Z", digest, 3),
			admissionLine("2026-12-07T02:01:03.000Z", ns, "reinvoked", false, "container_credentials; required volume mounts and env variables were already present"),
			admissionLine("2026-12-07T02:01:04.000Z", ns, "straddles", true, "container_credentials"),
		),
		"webhook-1": webhookLog(
			admissionLine("2026-12-07T02:00:11.000Z", ns, "straddles", false, noAssoc),
			admissionLine("2026-12-07T02:00:12.000Z", ns, "unloaded", false, noAssoc),
			loadLine("2026-12-07T02:00:30.000Z", digest, 3),
			admissionLine("2026-12-07T02:00:40.000Z", ns, "straddles", true, "container_credentials"),
		),
		"webhook-2": webhookLog(admissionLine("2026-12-07T02:00:12.000Z", ns, "never-loaded", false, noAssoc)),
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tm
	}
	for _, tc := range []struct {
		pod                   string
		webhook               string
		before, after         bool
		admissions            int
		admitted, loaded      string
		mutated               bool
		wantErr, wantEvidence string
	}{
		{pod: "none-race", webhook: "webhook-0", before: true, admissions: 1, admitted: "2026-12-07T02:00:10Z", loaded: "2026-12-07T02:01:00.5Z",
			wantEvidence: "webhook webhook-0: admission uid-none-race of " + ns + "/none-race: not mutated: " + noAssoc + ", before it loaded the identities file listing the association (02:01:00.500 50.5s after the admission)"},
		{pod: "irsa-race", webhook: "webhook-0", before: true, admissions: 1, admitted: "2026-12-07T02:00:20Z", loaded: "2026-12-07T02:01:00.5Z", mutated: true},
		// Logged in the same millisecond as the load, but after it.
		{pod: "none-after", webhook: "webhook-0", after: true, admissions: 1, admitted: "2026-12-07T02:01:00.5Z", loaded: "2026-12-07T02:01:00.5Z", mutated: true,
			wantEvidence: "after it loaded the identities file listing the association (02:01:00.500 0s after the admission)"},
		{pod: "reinvoked", webhook: "webhook-0", after: true, admissions: 2, admitted: "2026-12-07T02:01:01Z", loaded: "2026-12-07T02:01:00.5Z", mutated: true,
			wantEvidence: "(02:01:00.500 500ms before the admission)"},
		// Admitted three times, by two webhook pods, on both sides of
		// their loads: neither; the first admission is webhook-1's.
		{pod: "straddles", webhook: "webhook-1", admissions: 3, admitted: "2026-12-07T02:00:11Z", loaded: "2026-12-07T02:00:30Z"},
		{pod: "unloaded", webhook: "webhook-1", before: true, admissions: 1, admitted: "2026-12-07T02:00:12Z", loaded: "2026-12-07T02:00:30Z"},
		{pod: "never-loaded", wantErr: "webhook webhook-2 admitted " + ns + "/never-loaded but never logged loading sha256 d1"},
		{pod: "ghost", wantErr: "no webhook pod logged the admission of " + ns + "/ghost"},
	} {
		t.Run(tc.pod, func(t *testing.T) {
			e, err := OrderOf(logs, ns, tc.pod, digest)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.webhook, e.WebhookPod)
			require.Equal(t, tc.before, e.BeforeLoad, "before")
			require.Equal(t, tc.after, e.AfterLoad, "after")
			require.Equal(t, tc.admissions, e.Admissions)
			require.Equal(t, at(tc.admitted), e.AdmittedAt)
			require.Equal(t, at(tc.loaded), e.LoadedAt)
			require.Equal(t, tc.mutated, e.Admission.Mutated)
			require.Equal(t, "uid-"+tc.pod, e.Admission.RequestID)
			require.Contains(t, e.String(), tc.wantEvidence)
		})
	}
}

// FuzzOrderOf: any pair of webhook logs is read without panic; an
// admission found is on one side of the load or straddles it, never both.
func FuzzOrderOf(f *testing.F) {
	f.Add(webhookLog(admissionLine("2026-12-07T02:00:10Z", "ns", "p", false, "x"), loadLine("2026-12-07T02:00:11Z", "d", 1)), []byte("junk"), "ns", "p", "d")
	f.Add([]byte(`{"msg":"admission","namespace":"","pod":""}`), webhookLog(loadLine("", "", 0)), "", "", "")
	f.Fuzz(func(t *testing.T, a, b []byte, ns, pod, digest string) {
		e, err := OrderOf(map[string][]byte{"a": a, "b": b}, ns, pod, digest)
		if err != nil {
			return
		}
		require.Positive(t, e.Admissions)
		require.False(t, e.BeforeLoad && e.AfterLoad)
		require.Contains(t, []string{"a", "b"}, e.WebhookPod)
		_, _ = LoadedEverywhere(map[string][]byte{"a": a, "b": b}, digest)
	})
}
