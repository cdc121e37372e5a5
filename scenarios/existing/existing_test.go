//go:build e2e

package existing

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/issuertrust"
	"github.com/idlab/idlab/harness/nodeimage"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

const stsAction = "sts:AssumeRoleWithWebIdentity"

// TestMain makes a kind cluster as a user would, outside idlab (the kind
// library with its default config, not idlab's cluster package, and the
// lab's node image: nothing can be pulled here), brings the lab up on it
// as an existing cluster with the images of the lab that `idlab e2e`
// brought up, runs the rows against that lab, then takes the lab down and
// deletes the cluster. The kind cluster's service-account issuer and keys
// are kubeadm's: idlab never sets them.
func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "existing: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(m *testing.M) (code int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	say := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "existing: [%s] "+format+"\n", append([]any{time.Since(start).Round(time.Second)}, a...)...)
	}
	main, err := harness.Open(labenv.StateDir())
	if err != nil {
		return 1, fmt.Errorf("the lab idlab e2e brought up gives this suite its images: %w", err)
	}
	if main.EmulatorImage == "" || main.ProbeImage == "" {
		return 1, fmt.Errorf("the lab in %s has no emulator or probe image recorded (bring it up with this idlab, --probe)", main.Dir)
	}
	node, err := nodeimage.Ensure(ctx, nodeimage.Options{Progress: os.Stderr})
	if err != nil {
		return 1, err
	}
	dir, err := os.MkdirTemp("", "idlab-existing-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)
	kubeconfig := filepath.Join(dir, "kubeconfig")

	// A kind node beside the lab's own needs inotify instances: at Debian's
	// 128 this cluster's kube-proxy exited with "too many open files" and
	// CoreDNS never became ready. hack/setup-host.sh raises the limit.
	if raw, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && n < 512 {
			say("warning: fs.inotify.max_user_instances is %d; kind asks for 512 (sudo sysctl -w fs.inotify.max_user_instances=512), or this cluster's kube-proxy may fail with too many open files", n)
		}
	}
	say("kind create cluster --name %s --image %s (kind's default config; disableDefaultCNI %t: the node image brings its pod network)", KindName, node.Image, node.DisableDefaultCNI)
	kind := kindcluster.NewProvider(kindcluster.ProviderWithDocker())
	_ = kind.Delete(KindName, "") // a cluster a killed run left
	cfg := &v1alpha4.Cluster{}
	cfg.Networking.DisableDefaultCNI = node.DisableDefaultCNI
	if err := kind.Create(KindName, kindcluster.CreateWithV1Alpha4Config(cfg), kindcluster.CreateWithNodeImage(node.Image),
		kindcluster.CreateWithKubeconfigPath(kubeconfig), kindcluster.CreateWithWaitForReady(3*time.Minute)); err != nil {
		return 1, fmt.Errorf("kind create cluster: %w", err)
	}
	defer func() {
		say("kind delete cluster --name %s", KindName)
		if derr := kind.Delete(KindName, kubeconfig); derr != nil {
			err = errors.Join(err, fmt.Errorf("kind delete cluster: %w", derr))
		}
	}()
	say("cluster up")

	labFile := filepath.Join(dir, "idlab.yaml")
	if err := os.WriteFile(labFile, []byte(fmt.Sprintf(`apiVersion: idlab.dev/v1alpha1
kind: Lab
clusters:
  - name: %s
    flavour: eks
    region: %s
    kubeconfig: kubeconfig
    context: kind-%s
    kindCluster: %s
`, ClusterName, Region, KindName, KindName)), 0o644); err != nil {
		return 1, err
	}
	clusters, err := harness.LoadLabFile(labFile)
	if err != nil {
		return 1, err
	}
	stateDir := filepath.Join(dir, "state")
	lab, err := harness.New(harness.Config{StateDir: stateDir, Clusters: clusters, LabFile: labFile, FixturesDir: filepath.Join("testdata", "fixtures", "aws"),
		EmulatorImage: main.EmulatorImage, ProbeImage: main.ProbeImage, Progress: os.Stderr})
	if err != nil {
		return 1, err
	}
	if _, err := lab.Up(ctx); err != nil {
		if lerr := lab.ExportLogs(context.WithoutCancel(ctx), filepath.Join(os.TempDir(), "idlab-existing-logs")); lerr != nil {
			say("log export: %v", lerr)
		}
		return 1, fmt.Errorf("idlab up on the existing cluster: %w", err)
	}
	say("lab up on the existing cluster")
	defer func() {
		if derr := lab.Down(context.WithoutCancel(ctx)); derr != nil {
			err = errors.Join(err, fmt.Errorf("idlab down: %w", derr))
		}
	}()
	// labenv.Open in the tests opens this lab.
	if err := os.Setenv("IDLAB_STATE_DIR", stateDir); err != nil {
		return 1, err
	}
	code = m.Run()
	say("rows done")
	return code, nil
}

// TestExistingClusterIRSA: pods of a cluster idlab did not make trade
// tokens of that cluster's own issuer at the emulated STS running inside
// it. Each row is read from the pod's SDK error and from the emulator's
// decision log (through the port-forward to its admin API).
func TestExistingClusterIRSA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	c := lab.Cluster(t, ClusterName)
	issuer := lab.Clusters[ClusterName].IssuerURL
	require.NotEmpty(t, issuer)
	t.Logf("the cluster's own issuer: %s", issuer)
	lab.Namespace(ctx, t, c, Namespace, "app", "other")

	// The forged token names a kid the cluster publishes, read as the
	// lab read it, and is signed by a key the cluster never had.
	trust, err := issuertrust.Read(ctx, c.CS.Discovery().RESTClient())
	require.NoError(t, err)
	require.Equal(t, issuer, trust.Issuer)
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	forged, err := Forge(forger, trust.KeyIDs[0], issuer, Namespace, "app", time.Now())
	require.NoError(t, err)
	_, err = c.CS.CoreV1().Secrets(Namespace).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "forged-token"},
		StringData: map[string]string{"token": forged}}, metav1.CreateOptions{})
	require.NoError(t, err)

	tests := []struct {
		name     string
		sa       string
		forged   bool
		wantCode string // "" allows
		wantLog  string // the decision's effect
		reason   string // part of the decision's reason
	}{
		{name: RowOwnToken, sa: "app", wantLog: "Allow"},
		{name: RowOtherSA, sa: "other", wantCode: "AccessDenied", wantLog: "ImplicitDeny", reason: "system:serviceaccount:" + Namespace + ":other"},
		{name: RowForeignKey, sa: "app", forged: true, wantCode: "InvalidIdentityToken", wantLog: "Rejected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			since := lab.LastDecisionID(ctx, t)
			pod := podrun.IRSAPod(tc.name, tc.sa, lab.ProbeImage, RoleARN, Region)
			if tc.forged {
				podrun.WithTokenSecret(pod, "forged-token", "AWS_WEB_IDENTITY_TOKEN_FILE")
			}
			res, err := podrun.Run(ctx, c.CS, Namespace, pod)
			require.NoError(t, err)
			ds := lab.DecisionsSince(ctx, t, since, stsAction, RoleARN)
			require.NotEmpty(t, ds, "the emulator must have logged a decision")
			d := ds[len(ds)-1]
			labenv.Row(t, labenv.Outcome{Suite: "existing cluster", Scenario: tc.name, Mechanism: "IRSA (existing kind cluster)", Tier: labenv.Slow,
				Expected: labenv.Observed(tc.wantCode == "", tc.wantCode), Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: d.Effect + ": " + d.Reason})
			require.Equal(t, tc.wantLog, d.Effect, d.Explanation())
			if tc.wantCode == "" {
				require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
				require.True(t, strings.HasPrefix(res.Arn, "arn:aws:sts::123456789012:assumed-role/existing-app/"), res.Arn)
				return
			}
			require.False(t, res.OK, "%s must be refused, got %s", tc.name, res.Arn)
			require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
			require.Contains(t, d.Reason, tc.reason)
			t.Logf("%s: %s", tc.wantCode, d.Explanation())
		})
	}
}
