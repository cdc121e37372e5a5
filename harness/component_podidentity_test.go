package harness

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/idlab/idlab/components/irsawebhook"
)

// TestPodIdentityConfig: the webhook's identities are exactly the eks
// cluster's associations in fixtures/eks.
func TestPodIdentityConfig(t *testing.T) {
	raw, err := podIdentityConfig("../fixtures/eks", "eks")
	require.NoError(t, err)
	require.JSONEq(t, `{"identities":[{"namespace":"idlab-multinode","serviceAccount":"agent-app"},{"namespace":"idlab-podid","serviceAccount":"app"},{"namespace":"idlab-podid","serviceAccount":"untrusted"}]}`, string(raw))
	raw, err = podIdentityConfig("../fixtures/eks", "other")
	require.NoError(t, err)
	require.JSONEq(t, `{"identities":[]}`, string(raw))
	_, err = podIdentityConfig(t.TempDir()+"/missing", "eks")
	require.Error(t, err)
}

// TestEnableContainerCredentials: the webhook's Deployment gets the config
// volume, mount and flag once, however often the lab is brought up.
func TestEnableContainerCredentials(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	for _, o := range irsawebhook.Manifests("img", SystemNamespace, nil) {
		require.NoError(t, apply(ctx, cs, o))
	}
	d, err := cs.AppsV1().Deployments(SystemNamespace).Get(ctx, irsawebhook.Name, metav1.GetOptions{})
	require.NoError(t, err)
	d.Status.ObservedGeneration, d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas = d.Generation, 1, 1, 1
	_, err = cs.AppsV1().Deployments(SystemNamespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	require.NoError(t, err)
	for range 2 {
		require.NoError(t, enableContainerCredentials(ctx, cs))
	}
	d, err = cs.AppsV1().Deployments(SystemNamespace).Get(ctx, irsawebhook.Name, metav1.GetOptions{})
	require.NoError(t, err)
	ctr := d.Spec.Template.Spec.Containers[0]
	n := 0
	for _, a := range ctr.Args {
		if a == "--watch-container-credentials-config=/etc/eks/pod-identity/config.json" {
			n++
		}
	}
	require.Equal(t, 1, n)
	require.Len(t, d.Spec.Template.Spec.Volumes, 2, "cert and config")
	require.Equal(t, podIdentityConfigDir, ctr.VolumeMounts[len(ctr.VolumeMounts)-1].MountPath)
}

// TestEditIdentities: entries are added once and removed, in the lab's
// sorted form; what is not an identities file is refused.
func TestEditIdentities(t *testing.T) {
	a, b, c := WebhookIdentity{"ns-a", "app"}, WebhookIdentity{"ns-b", "app"}, WebhookIdentity{"ns-a", "zed"}
	shipped := `{"identities":[{"namespace":"idlab-podid","serviceAccount":"app"},{"namespace":"idlab-podid","serviceAccount":"untrusted"}]}`
	for _, tc := range []struct {
		name, raw   string
		add, remove []WebhookIdentity
		want        string
		wantErr     string
	}{
		{name: "empty file, nothing to do", want: `{"identities":[]}`},
		{name: "add to an empty file", add: []WebhookIdentity{b, a}, want: `{"identities":[{"namespace":"ns-a","serviceAccount":"app"},{"namespace":"ns-b","serviceAccount":"app"}]}`},
		{name: "add beside the shipped ones", raw: shipped, add: []WebhookIdentity{c, a},
			want: `{"identities":[{"namespace":"idlab-podid","serviceAccount":"app"},{"namespace":"idlab-podid","serviceAccount":"untrusted"},{"namespace":"ns-a","serviceAccount":"app"},{"namespace":"ns-a","serviceAccount":"zed"}]}`},
		{name: "add what is there", raw: `{"identities":[{"namespace":"ns-a","serviceAccount":"app"}]}`, add: []WebhookIdentity{a, a},
			want: `{"identities":[{"namespace":"ns-a","serviceAccount":"app"}]}`},
		{name: "remove", raw: `{"identities":[{"namespace":"ns-b","serviceAccount":"app"},{"namespace":"ns-a","serviceAccount":"app"}]}`, remove: []WebhookIdentity{a},
			want: `{"identities":[{"namespace":"ns-b","serviceAccount":"app"}]}`},
		{name: "remove what is not there", raw: shipped, remove: []WebhookIdentity{a}, want: shipped},
		{name: "remove wins over add", add: []WebhookIdentity{a}, remove: []WebhookIdentity{a}, want: `{"identities":[]}`},
		{name: "null identities", raw: `{"identities":null}`, add: []WebhookIdentity{a}, want: `{"identities":[{"namespace":"ns-a","serviceAccount":"app"}]}`},
		{name: "not JSON", raw: `{"identities":[`, wantErr: "pod identity webhook identities: unexpected EOF"},
		{name: "unknown field", raw: `{"identities":[],"roles":[]}`, wantErr: `unknown field "roles"`},
		{name: "wrong shape", raw: `{"identities":{}}`, wantErr: "cannot unmarshal object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EditIdentities([]byte(tc.raw), tc.add, tc.remove)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
	// The shipped file, as podIdentityConfig writes it, is already in the
	// lab's form: editing nothing leaves it byte for byte.
	raw, err := podIdentityConfig("../fixtures/eks", "eks")
	require.NoError(t, err)
	same, err := EditIdentities(raw, nil, nil)
	require.NoError(t, err)
	require.Equal(t, string(raw), string(same))
}

// TestUpdatePodIdentityConfig edits the ConfigMap in place, retrying a
// conflicting write, and returns exactly what it stored.
func TestUpdatePodIdentityConfig(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: PodIdentityConfigMap, Namespace: SystemNamespace},
		Data: map[string]string{PodIdentityConfigKey: `{"identities":[{"namespace":"idlab-podid","serviceAccount":"app"}]}`}})
	conflicts := 1
	cs.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, PodIdentityConfigMap, errors.New("changed"))
		}
		return false, nil, nil
	})
	race := WebhookIdentity{Namespace: "idlab-podid-race", ServiceAccount: "app"}
	raw, err := UpdatePodIdentityConfig(ctx, cs, []WebhookIdentity{race}, nil)
	require.NoError(t, err)
	require.Zero(t, conflicts, "the conflict was met and retried")
	require.Equal(t, `{"identities":[{"namespace":"idlab-podid","serviceAccount":"app"},{"namespace":"idlab-podid-race","serviceAccount":"app"}]}`, string(raw))
	cm, err := cs.CoreV1().ConfigMaps(SystemNamespace).Get(ctx, PodIdentityConfigMap, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, string(raw), cm.Data[PodIdentityConfigKey])

	raw, err = UpdatePodIdentityConfig(ctx, cs, nil, []WebhookIdentity{race})
	require.NoError(t, err)
	require.Equal(t, `{"identities":[{"namespace":"idlab-podid","serviceAccount":"app"}]}`, string(raw))

	_, err = UpdatePodIdentityConfig(ctx, fake.NewClientset(), []WebhookIdentity{race}, nil)
	require.ErrorContains(t, err, "update idlab-system/"+PodIdentityConfigMap)
}

// FuzzEditIdentities: any ConfigMap content is edited or refused, never
// panics, and an edit lists what was added and not what was removed.
func FuzzEditIdentities(f *testing.F) {
	f.Add([]byte(`{"identities":[{"namespace":"a","serviceAccount":"b"}]}`), "a", "c", "a", "b")
	f.Add([]byte(``), "", "", "x", "y")
	f.Add([]byte(`{"identities":null}`), "a", "b", "a", "b")
	f.Fuzz(func(t *testing.T, raw []byte, addNS, addSA, rmNS, rmSA string) {
		add, rm := WebhookIdentity{addNS, addSA}, WebhookIdentity{rmNS, rmSA}
		out, err := EditIdentities(raw, []WebhookIdentity{add}, []WebhookIdentity{rm})
		if err != nil {
			return
		}
		var f webhookIdentities
		require.NoError(t, json.Unmarshal(out, &f))
		// JSON carries valid UTF-8 only: other names come back changed.
		valid := func(id WebhookIdentity) bool {
			return utf8.ValidString(id.Namespace) && utf8.ValidString(id.ServiceAccount)
		}
		if valid(rm) {
			require.NotContains(t, f.Identities, rm)
		}
		if add != rm && valid(add) {
			require.Contains(t, f.Identities, add)
		}
		again, err := EditIdentities(out, nil, nil)
		require.NoError(t, err)
		if valid(add) {
			require.Equal(t, string(out), string(again), "the lab's form is stable")
		}
	})
}
