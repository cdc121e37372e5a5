//go:build e2e

// Package smoke is the first end-to-end scenario: a pod in the eks cluster
// trades its projected service-account token at the emulated STS, through
// cluster DNS and the lab CA, and a pod of another service account is denied.
package smoke

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/internal/podrun"
)

const (
	namespace = "idlab-smoke"
	roleARN   = "arn:aws:iam::123456789012:role/app-a"
)

func stateDir() string {
	if d := os.Getenv("IDLAB_STATE_DIR"); d != "" {
		return d
	}
	return "../../.idlab"
}

func TestIRSASmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	lab, err := harness.Open(stateDir())
	require.NoError(t, err)
	eks, ok := lab.Clusters["eks"]
	require.True(t, ok, "the lab has no eks cluster")
	require.NotEmpty(t, lab.ProbeImage, "the lab was brought up without the probe image")
	rc, err := clientcmd.BuildConfigFromFlags("", eks.Kubeconfig)
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(rc)
	require.NoError(t, err)

	// A fresh namespace with two service accounts and the lab CA.
	require.NoError(t, deleteNamespace(ctx, cs, namespace))
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = deleteNamespace(context.Background(), cs, namespace) })
	ca, err := lab.CAPEM()
	require.NoError(t, err)
	_, err = cs.CoreV1().ConfigMaps(namespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: podrun.CAConfigMap}, Data: map[string]string{"ca.pem": string(ca)}}, metav1.CreateOptions{})
	require.NoError(t, err)
	for _, sa := range []string{"app-a", "app-b"} {
		_, err = cs.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	tests := []struct {
		pod, sa  string
		wantARN  string
		wantCode string
	}{
		{"right-sa", "app-a", "arn:aws:sts::123456789012:assumed-role/app-a/", ""},
		{"other-sa", "app-b", "", "AccessDenied"},
	}
	for _, tc := range tests {
		t.Run(tc.pod, func(t *testing.T) {
			since := lastDecisionID(ctx, t, lab)
			res, err := podrun.Run(ctx, cs, namespace, podrun.IRSAPod(tc.pod, tc.sa, lab.ProbeImage, roleARN, eks.Region))
			require.NoError(t, err)
			subject := "system:serviceaccount:" + namespace + ":" + tc.sa
			ds, err := lab.Decisions(ctx, url.Values{"action": {"sts:AssumeRoleWithWebIdentity"}, "since": {since}})
			require.NoError(t, err)
			if tc.wantCode == "" {
				require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
				require.True(t, strings.HasPrefix(res.Arn, tc.wantARN), res.Arn)
				require.NotEmpty(t, ds)
				require.Equal(t, "Allow", ds[len(ds)-1].Effect)
				return
			}
			require.False(t, res.OK, "pod %s must be denied, got %s", tc.pod, res.Arn)
			require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
			require.NotEmpty(t, ds, "the denial must be in the emulator's decision log")
			d := ds[len(ds)-1]
			require.Equal(t, "ImplicitDeny", d.Effect)
			require.Equal(t, roleARN, d.Resource)
			require.Contains(t, d.Reason, subject, "the log says which subject was refused")
			t.Logf("emulator decision: %s", d.Explanation)
		})
	}
}

// lastDecisionID returns the newest decision ID so a subtest reads only its own.
func lastDecisionID(ctx context.Context, t *testing.T, lab *harness.State) string {
	t.Helper()
	ds, err := lab.Decisions(ctx, url.Values{})
	require.NoError(t, err)
	if len(ds) == 0 {
		return "0"
	}
	return ds[len(ds)-1].ID
}

func deleteNamespace(ctx context.Context, cs kubernetes.Interface, ns string) error {
	err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
