package nodeimage

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"
)

// DebootstrapArgs are the debootstrap arguments for a minbase rootfs of suite
// in dir with the given packages, from mirror.
func DebootstrapArgs(suite, dir, mirror string, packages []string) []string {
	return []string{
		"--variant=minbase",
		"--include=" + strings.Join(packages, ","),
		suite, dir, mirror,
	}
}

// Component is how one control-plane image is made from one binary.
type Component struct {
	// Binary is the file name in the binary dir.
	Binary string
	// Path is where the binary goes in the image; it is also the entrypoint.
	Path string
	// OnBase puts the binary on the Debian base instead of FROM scratch
	// (kube-proxy needs iptables and friends).
	OnBase bool
}

// imagePath is the PATH of component images (kubeadm's manifests run
// "kube-apiserver", "etcd", ... by name).
const imagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ComponentFor maps an image reference from `kubeadm config images list` to
// the binary and layout that stand in for it.
func ComponentFor(ref string) (Component, error) {
	repo := ref
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		repo = ref[:i]
	}
	switch path.Base(repo) {
	case "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd":
		b := path.Base(repo)
		return Component{Binary: b, Path: "/usr/local/bin/" + b}, nil
	case "kube-proxy":
		return Component{Binary: "kube-proxy", Path: "/usr/local/bin/kube-proxy", OnBase: true}, nil
	case "coredns":
		return Component{Binary: "coredns", Path: "/coredns"}, nil
	case "pause":
		return Component{Binary: "pause", Path: "/pause"}, nil
	}
	return Component{}, fmt.Errorf("no binary stands in for image %q", ref)
}

func (c Component) entrypointChange() string {
	return fmt.Sprintf("ENTRYPOINT [%q]", c.Path)
}

// ImportArgs are the docker arguments that import a single-binary layer tar
// from stdin as image ref.
func ImportArgs(c Component, ref string) []string {
	return []string{"import",
		"--change", "ENV PATH=" + imagePath,
		"--change", c.entrypointChange(),
		"-", ref}
}

// BuildContainerArgs are the docker arguments that start the scratch
// container the node image is assembled in. The stop signal is systemd's, and
// survives into the committed image.
func BuildContainerArgs(container, baseImage string) []string {
	return []string{"run", "-d", "--name", container,
		"--entrypoint", "sleep", "--stop-signal", "SIGRTMIN+3",
		"--security-opt", "seccomp=unconfined",
		baseImage, "infinity"}
}

// CommitArgs are the docker arguments that commit the assembled container as
// the node image, restoring kind's entrypoint.
func CommitArgs(container, image string) []string {
	return []string{"commit",
		"--change", `ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]`,
		"--change", `CMD []`,
		container, image}
}

// NodeFixupScript sets owners and modes of the copied files, points
// containerd at the pause image kubeadm expects and writes /kind/version,
// which kind reads to pick its kubeadm config.
func NodeFixupScript(kubernetesVersion, pauseImage string) string {
	return fmt.Sprintf(`set -e
chown root:root /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl /usr/local/bin/crictl %[1]s
chmod 0755 /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl /usr/local/bin/crictl
chmod 0644 %[1]s
sed -i 's#sandbox_image = ".*"#sandbox_image = "%[3]s"#' /etc/containerd/config.toml
grep -q 'sandbox_image = "%[3]s"' /etc/containerd/config.toml
printf %%s %[2]s > /kind/version
`, CNIConfigPath, shellQuote(kubernetesVersion), pauseImage)
}

const buildContainerdLog = "/var/log/idlab-build-containerd.log"

// startContainerdScript starts containerd in the build container and waits
// for it to answer.
const startContainerdScript = `nohup containerd > ` + buildContainerdLog + ` 2>&1 &
for i in $(seq 1 150); do
  [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && exit 0
  sleep 0.2
done
echo "containerd did not start in 30s" >&2; tail -20 ` + buildContainerdLog + ` >&2; exit 1
`

// stopContainerdScript drops the import-* names ctr import leaves, stops
// containerd and removes the traces of the build.
const stopContainerdScript = `set -e
ctr -n k8s.io images ls -q | grep '^import-' | xargs -r ctr -n k8s.io images rm >/dev/null
pkill -x containerd || true
for i in $(seq 1 100); do pgrep -x containerd >/dev/null || break; sleep 0.1; done
rm -f ` + buildContainerdLog + `
`

// ParseImageList parses `kubeadm config images list` output: one reference
// per line. It fails unless every control-plane component is there.
func ParseImageList(out string) ([]string, error) {
	var refs []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "W") && strings.Contains(l, "]") {
			continue // empty or a klog warning line
		}
		if strings.ContainsAny(l, " \t") {
			return nil, fmt.Errorf("unexpected line in kubeadm image list: %q", l)
		}
		refs = append(refs, l)
	}
	for _, want := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "etcd", "coredns", "pause"} {
		if findImage(refs, want) == "" {
			return nil, fmt.Errorf("kubeadm image list lacks %s: %q", want, out)
		}
	}
	return refs, nil
}

// findImage returns the reference in refs whose repository base name is name.
func findImage(refs []string, name string) string {
	for _, r := range refs {
		repo := r
		if i := strings.LastIndex(r, ":"); i > strings.LastIndex(r, "/") {
			repo = r[:i]
		}
		if path.Base(repo) == name {
			return r
		}
	}
	return ""
}

// moduleDir reads Dir from `go mod download -json` output.
func moduleDir(out string) (string, error) {
	var m struct{ Dir, Error string }
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return "", fmt.Errorf("parse go mod download output: %w", err)
	}
	if m.Error != "" {
		return "", fmt.Errorf("go mod download: %s", m.Error)
	}
	if m.Dir == "" {
		return "", fmt.Errorf("go mod download: no Dir in %q", out)
	}
	return m.Dir, nil
}

// writeSingleFileTar writes a layer tar holding src at dst (mode 0755, owned
// by root) with its parent directories.
func writeSingleFileTar(tarPath, src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	f, err := os.Create(tarPath)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return writeSingleFile(f, in, info.Size(), dst)
}

func writeSingleFile(w io.Writer, r io.Reader, size int64, dst string) error {
	tw := tar.NewWriter(w)
	dst = strings.TrimPrefix(path.Clean("/"+dst), "/")
	var dirs []string
	for d := path.Dir(dst); d != "." && d != "/"; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dst, Mode: 0o755, Size: size, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, r); err != nil {
		return err
	}
	return tw.Close()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
