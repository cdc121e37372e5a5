package nodeimage

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDebootstrapArgs(t *testing.T) {
	got := DebootstrapArgs("bookworm", "/w/rootfs", "http://m/debian", []string{"systemd", "containerd"})
	require.Equal(t, []string{"--variant=minbase", "--include=systemd,containerd", "bookworm", "/w/rootfs", "http://m/debian"}, got)
}

func TestPackagesCoverNodeNeeds(t *testing.T) {
	pkgs := strings.Join(Packages(), " ")
	for _, p := range []string{"systemd", "containerd", "runc", "iptables", "containernetworking-plugins", "jq", "procps"} {
		require.Contains(t, pkgs, p)
	}
}

const kubeadmImages = `registry.k8s.io/kube-apiserver:v1.34.4
registry.k8s.io/kube-controller-manager:v1.34.4
registry.k8s.io/kube-scheduler:v1.34.4
registry.k8s.io/kube-proxy:v1.34.4
registry.k8s.io/coredns/coredns:v1.12.1
registry.k8s.io/pause:3.10.1
registry.k8s.io/etcd:3.6.5-0
`

func TestParseImageList(t *testing.T) {
	refs, err := ParseImageList("W1122 12:00:00.000 1 version.go:1] a klog warning\n" + kubeadmImages)
	require.NoError(t, err)
	require.Len(t, refs, 7)
	require.Equal(t, "registry.k8s.io/coredns/coredns:v1.12.1", findImage(refs, "coredns"))
	require.Equal(t, "registry.k8s.io/pause:3.10.1", findImage(refs, "pause"))
	require.Equal(t, "", findImage(refs, "kindnetd"))

	_, err = ParseImageList(strings.Replace(kubeadmImages, "registry.k8s.io/etcd:3.6.5-0", "", 1))
	require.ErrorContains(t, err, "lacks etcd")
	_, err = ParseImageList("some unexpected output\n" + kubeadmImages)
	require.ErrorContains(t, err, "unexpected line")
}

func TestComponentFor(t *testing.T) {
	tests := []struct {
		ref  string
		want Component
	}{
		{"registry.k8s.io/kube-apiserver:v1.34.4", Component{Binary: "kube-apiserver", Path: "/usr/local/bin/kube-apiserver"}},
		{"registry.k8s.io/kube-scheduler:v1.34.4", Component{Binary: "kube-scheduler", Path: "/usr/local/bin/kube-scheduler"}},
		{"registry.k8s.io/etcd:3.6.5-0", Component{Binary: "etcd", Path: "/usr/local/bin/etcd"}},
		{"registry.k8s.io/kube-proxy:v1.34.4", Component{Binary: "kube-proxy", Path: "/usr/local/bin/kube-proxy", OnBase: true}},
		{"registry.k8s.io/coredns/coredns:v1.12.1", Component{Binary: "coredns", Path: "/coredns"}},
		{"localhost:5000/pause:3.10.1", Component{Binary: "pause", Path: "/pause"}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := ComponentFor(tt.ref)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	_, err := ComponentFor("docker.io/kindest/kindnetd:v1")
	require.Error(t, err)
	// Every image kubeadm lists has a binary hack/build-k8s.sh builds.
	refs, err := ParseImageList(kubeadmImages)
	require.NoError(t, err)
	for _, r := range refs {
		c, err := ComponentFor(r)
		require.NoError(t, err)
		require.Contains(t, Binaries(), c.Binary)
	}
}

func TestDockerArgs(t *testing.T) {
	c := Component{Binary: "coredns", Path: "/coredns"}
	require.Equal(t, []string{"import", "--change", "ENV PATH=" + imagePath, "--change", `ENTRYPOINT ["/coredns"]`, "-", "registry.k8s.io/coredns/coredns:v1.12.1"},
		ImportArgs(c, "registry.k8s.io/coredns/coredns:v1.12.1"))
	require.Equal(t, []string{"run", "-d", "--name", "b", "--entrypoint", "sleep", "--stop-signal", "SIGRTMIN+3", "--security-opt", "seccomp=unconfined", "idlab/node-base:x", "infinity"},
		BuildContainerArgs("b", "idlab/node-base:x"))
	require.Equal(t, []string{"commit", "--change", `ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]`, "--change", "CMD []", "b", "idlab/node:v1.34.4-x"},
		CommitArgs("b", "idlab/node:v1.34.4-x"))
}

func TestNodeFixupScript(t *testing.T) {
	s := NodeFixupScript("v1.34.4", "registry.k8s.io/pause:3.10.1")
	require.Contains(t, s, "printf %s 'v1.34.4' > /kind/version")
	require.Contains(t, s, CNIConfigPath)
	require.Contains(t, s, `s#sandbox_image = ".*"#sandbox_image = "registry.k8s.io/pause:3.10.1"#`)
}

func TestRecipeAssets(t *testing.T) {
	// The containerd adaptations the host needs are in the base script.
	require.Contains(t, baseScript, "restrict_oom_score_adj = true")
	require.Contains(t, baseScript, "set -o errexit -o nounset -o pipefail")
	require.Contains(t, CNIConfig(), `"type": "bridge"`)
}

func TestWriteSingleFile(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, writeSingleFile(&buf, strings.NewReader("binary"), 6, "/usr/local/bin/etcd"))
	tr := tar.NewReader(&buf)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		names = append(names, h.Name)
		require.Equal(t, int64(0o755), h.Mode)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			require.Equal(t, "binary", string(b))
		}
	}
	require.Equal(t, []string{"usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/etcd"}, names)
}

func TestModuleDir(t *testing.T) {
	dir, err := moduleDir(`{"Path":"sigs.k8s.io/kind","Version":"v0.33.0","Dir":"/m/sigs.k8s.io/kind@v0.33.0"}`)
	require.NoError(t, err)
	require.Equal(t, "/m/sigs.k8s.io/kind@v0.33.0", dir)
	_, err = moduleDir(`{"Path":"x","Error":"403"}`)
	require.ErrorContains(t, err, "403")
	_, err = moduleDir(`not json`)
	require.Error(t, err)
}

func TestCommandLineAndErrors(t *testing.T) {
	require.Equal(t, `docker exec c sh -c 'set -e ...'`, commandLine("docker", []string{"exec", "c", "sh", "-c", "set -e\nfoo"}))
	require.Equal(t, "a\nb", tailLines("x\ny\na\nb\n", 2))
	e := &CommandError{Cmd: "debootstrap x", Log: "/l", Tail: "E: boom", Err: errors.New("exit status 1")}
	require.Equal(t, "`debootstrap x`: exit status 1 (log: /l)\n    | E: boom", e.Error())
}

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 2)
	now := time.Unix(0, 0)
	p.now = func() time.Time { now = now.Add(1500 * time.Millisecond); return now }
	require.NoError(t, p.step("debootstrap bookworm", func() (string, error) { return "", nil }))
	err := p.step("import", func() (string, error) { return "", errors.New("boom") })
	require.ErrorContains(t, err, "import: boom")
	require.Equal(t, "[1/2] debootstrap bookworm ...\n[1/2] debootstrap bookworm ... 1.5s\n[2/2] import ...\n[2/2] import ... FAILED after 1.5s\n", buf.String())
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{Getenv: func(k string) string {
		return map[string]string{"IDLAB_DEBIAN_MIRROR": "http://m/debian", "IDLAB_NODE_IMAGE_PULL": "0", "IDLAB_NODE_IMAGE": "idlab/node:v1.34.4-cached"}[k]
	}}.withDefaults()
	require.Equal(t, "idlab/node:v1.34.4-cached", o.Image)
	require.Equal(t, "idlab/node:given", Options{Image: "idlab/node:given", Getenv: func(string) string { return "idlab/node:env" }}.withDefaults().Image,
		"Options.Image wins over the environment")
	require.Equal(t, DefaultKubernetesVersion, o.KubernetesVersion)
	require.Equal(t, "http://m/debian", o.Mirror)
	require.True(t, o.NoUpstream)
	require.Equal(t, "docker", o.Docker)
	require.NoError(t, o.validate())
	o.KubernetesVersion = "1.34"
	require.Error(t, o.validate())
}

func TestLockFile(t *testing.T) {
	path := t.TempDir() + "/l"
	unlock, err := lockFile(t.Context(), path)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	_, err = lockFile(ctx, path)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	unlock()
	unlock2, err := lockFile(t.Context(), path)
	require.NoError(t, err)
	unlock2()
}

// TestNeedsRoot: a build refused for want of root says what needs it, why
// kindest/node was not the way around it, and the ways there are.
func TestNeedsRoot(t *testing.T) {
	err := needsRoot(ErrNotRoot, "v1.34.4", "docker pull kindest/node:v1.34.4: dial tcp: lookup registry-1.docker.io: no such host")
	require.ErrorIs(t, err, ErrNotRoot)
	for _, want := range []string{
		"kindest/node:v1.34.4 is not available (docker pull kindest/node:v1.34.4: dial tcp: lookup registry-1.docker.io: no such host)",
		"debootstrap", "sudo -E make e2e", "sudo bin/idlab node-image", "docker pull kindest/node:v1.34.4", "docker load",
	} {
		require.Contains(t, err.Error(), want)
	}
	other := errors.New("debootstrap not found")
	require.Equal(t, other, needsRoot(other, "v1.34.4", "x"), "other errors pass through")
}

func TestPullFailure(t *testing.T) {
	tests := []struct {
		name   string
		out    string
		ctxErr error
		want   string
	}{
		{name: "registry error", out: "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host\n",
			want: "docker pull kindest/node:v1: Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host"},
		{name: "last line", out: "pulling\nmanifest unknown\n", want: "docker pull kindest/node:v1: manifest unknown"},
		{name: "silent", want: "docker pull kindest/node:v1: exit status 1"},
		{name: "timeout", ctxErr: context.DeadlineExceeded, want: "docker pull kindest/node:v1: no answer in time (no registry reachable?)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, pullFailure("kindest/node:v1", errors.New("exit status 1"), []byte(tc.out), tc.ctxErr))
		})
	}
}
