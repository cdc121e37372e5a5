//go:build e2e

package nodeimage_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/nodeimage"
)

// TestEnsure builds (or finds) the node image and checks what kind and the
// lab rely on. Needs Docker, and root and debootstrap when the image must
// be built (hack/setup-host.sh); without them it fails, saying so. The
// suite runner runs it in make e2e (suites.DefaultPatterns), where `idlab
// up` has made the image ready: it then only finds and inspects it, ours or
// kindest/node (when Docker could pull it).
func TestEnsure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	opts := nodeimage.Options{Progress: testWriter{t}}
	res, err := nodeimage.Ensure(ctx, opts)
	require.NoError(t, err)
	t.Logf("image %s in %s (built %t)", res.Image, res.Duration, res.Built)

	run := func(entrypoint string, args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "docker", append([]string{"run", "--rm", "--entrypoint", entrypoint, res.Image}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	cat := func(path string) string { t.Helper(); return run("cat", path) }
	require.Equal(t, nodeimage.DefaultKubernetesVersion, strings.TrimSpace(cat("/kind/version")))
	// Both images carry the ptp plugin the ptp and kindnet pod networks
	// run (harness/cni).
	run("test", "-x", "/opt/cni/bin/ptp")
	if res.Upstream {
		// kind's own image: kindnet is its pod network.
		require.Equal(t, nodeimage.UpstreamImageName(nodeimage.DefaultKubernetesVersion), res.Image)
		require.False(t, res.DisableDefaultCNI)
		return
	}
	require.True(t, res.DisableDefaultCNI)
	require.Regexp(t, `^idlab/node:v1\.34\.\d+-[0-9a-f]{12}$`, res.Image)
	require.Contains(t, cat("/etc/containerd/config.toml"), "restrict_oom_score_adj = true")
	require.JSONEq(t, nodeimage.CNIConfig(), cat(nodeimage.CNIConfigPath))

	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Config.StopSignal}} {{json .Config.Entrypoint}}", res.Image).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, `SIGRTMIN+3 ["/usr/local/bin/entrypoint","/sbin/init"]`, strings.TrimSpace(string(out)))

	// A second run finds the image.
	again, err := nodeimage.Ensure(ctx, opts)
	require.NoError(t, err)
	require.Equal(t, res.Image, again.Image)
	require.False(t, again.Built)
	t.Logf("warm: %s", again.Duration)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
