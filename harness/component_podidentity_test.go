package harness

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/idlab/idlab/components/irsawebhook"
)

// TestPodIdentityConfig: the webhook's identities are exactly the eks
// cluster's associations in fixtures/eks.
func TestPodIdentityConfig(t *testing.T) {
	raw, err := podIdentityConfig("../fixtures/eks", "eks")
	require.NoError(t, err)
	require.JSONEq(t, `{"identities":[{"namespace":"idlab-podid","serviceAccount":"app"},{"namespace":"idlab-podid","serviceAccount":"untrusted"}]}`, string(raw))
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
