package nodeimage

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	// DefaultKubernetesVersion is the Kubernetes release built by default. It
	// must match k8s.io/kubernetes in build/k8s/go.mod. Kubernetes >= 1.35
	// refuses cgroup v1 hosts unless kubelet sets failCgroupV1: false.
	DefaultKubernetesVersion = "v1.34.4"
	// DefaultSuite is the Debian release the node is built from.
	DefaultSuite = "bookworm"
	// KindVersion is the sigs.k8s.io/kind module whose base files the node uses.
	KindVersion = "v0.33.0"
	// ImageRepository is the repository of built node images.
	ImageRepository = "idlab/node"

	// recipeVersion changes the image name when the recipe changes in a way
	// the embedded assets do not show.
	recipeVersion = "1"
)

var (
	//go:embed assets/base.sh
	baseScript string
	//go:embed assets/10-idlab-bridge.conflist
	cniConfig string
)

// CNIConfigPath is where the static bridge CNI conflist lives in a built node.
const CNIConfigPath = "/etc/cni/net.d/10-idlab-bridge.conflist"

// Packages is the Debian package list installed into the node by debootstrap.
func Packages() []string {
	return []string{
		"systemd", "systemd-sysv", "dbus", "conntrack", "iptables", "nftables", "iproute2",
		"ethtool", "util-linux", "mount", "kmod", "libseccomp2", "pigz", "bash",
		"ca-certificates", "curl", "jq", "procps", "containerd", "runc",
		"containernetworking-plugins", "e2fsprogs", "fuse-overlayfs",
	}
}

// CNIConfig returns the static bridge CNI conflist placed at CNIConfigPath.
func CNIConfig() string { return cniConfig }

// Binaries are the files hack/build-k8s.sh produces and a node image needs.
func Binaries() []string {
	return []string{
		"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
		"kubelet", "kubeadm", "kubectl", "crictl", "etcd", "coredns", "pause",
	}
}

// ErrNotRoot is returned when a build is needed but the process is not root
// (debootstrap and chroot need it).
var ErrNotRoot = errors.New("building a node image needs root")

// Options configures Ensure. The zero value works in an idlab checkout on a
// Debian host with Docker (see hack/setup-host.sh).
type Options struct {
	// KubernetesVersion, like "v1.34.4". Defaults to DefaultKubernetesVersion.
	KubernetesVersion string
	// Image is an image to use when Docker has it (one loaded from a
	// cache), else the name to give a built image. Defaults to
	// IDLAB_NODE_IMAGE, else ImageName(KubernetesVersion, hash of the
	// inputs).
	Image string
	// BinDir holds the binaries listed by Binaries(). Defaults to the output
	// of BuildScript.
	BinDir string
	// BuildScript builds the binaries and prints their dir. Defaults to
	// hack/build-k8s.sh of the idlab checkout around the working dir.
	BuildScript string
	// KindFiles is kind's images/base/files. Defaults to that dir of
	// sigs.k8s.io/kind@KindVersion in the Go module cache (downloaded with
	// `go mod download` when missing).
	KindFiles string
	// Mirror is the Debian mirror for debootstrap. Defaults to
	// ResolveMirror(Getenv, "/", Suite).
	Mirror string
	// Suite is the Debian release. Defaults to DefaultSuite.
	Suite string
	// WorkDir is where the rootfs, image tarballs and logs go. Defaults to a
	// new temp dir, removed after a success and kept after a failure.
	WorkDir string
	// Docker is the docker CLI. Defaults to "docker".
	Docker string
	// NoUpstream skips looking for kindest/node. Defaults to false, unless
	// IDLAB_NODE_IMAGE_PULL=0.
	NoUpstream bool
	// PullTimeout bounds the attempt to pull kindest/node. Defaults to 20s.
	PullTimeout time.Duration
	// Progress receives one line per step. Defaults to io.Discard.
	Progress io.Writer
	// Log receives debug detail (every command). Defaults to discarding.
	Log *slog.Logger
	// Getenv reads the environment. Defaults to os.Getenv.
	Getenv func(string) string
}

// Result says which image to give kind and how to configure the cluster.
type Result struct {
	// Image is the node image name.
	Image string
	// Upstream is true for kind's published kindest/node image.
	Upstream bool
	// Built is true when this call built the image.
	Built bool
	// DisableDefaultCNI is true for built images: they carry a static bridge
	// CNI config instead of kindnetd, so the kind config must set
	// networking.disableDefaultCNI (single-node clusters).
	DisableDefaultCNI bool
	// Duration is how long Ensure took.
	Duration time.Duration
}

func (o Options) withDefaults() Options {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.KubernetesVersion == "" {
		o.KubernetesVersion = DefaultKubernetesVersion
	}
	if o.Suite == "" {
		o.Suite = DefaultSuite
	}
	if o.Docker == "" {
		o.Docker = "docker"
	}
	if o.PullTimeout == 0 {
		o.PullTimeout = 20 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Image == "" {
		o.Image = o.Getenv("IDLAB_NODE_IMAGE")
	}
	if o.Getenv("IDLAB_NODE_IMAGE_PULL") == "0" {
		o.NoUpstream = true
	}
	if o.Mirror == "" {
		o.Mirror = ResolveMirror(o.Getenv, "/", o.Suite)
	}
	return o
}

func (o Options) validate() error {
	if !strings.HasPrefix(o.KubernetesVersion, "v") || strings.Count(o.KubernetesVersion, ".") != 2 {
		return fmt.Errorf("kubernetes version %q: want vMAJOR.MINOR.PATCH", o.KubernetesVersion)
	}
	return nil
}

// Ensure returns a kind node image for opts.KubernetesVersion: an existing
// built image with the same inputs, kindest/node when present or pullable, or
// a new offline build.
func Ensure(ctx context.Context, opts Options) (Result, error) {
	start := time.Now()
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	b := &builder{o: o, progress: newProgress(o.Progress, 8)}
	res, err := b.ensure(ctx)
	res.Duration = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("node image %s: %w", o.KubernetesVersion, err)
	}
	return res, nil
}

type builder struct {
	o        Options
	progress *progress
	r        *runner
	bins     string
	kind     string
	in       Inputs
	// upstream says why kindest/node is not the image, for errors.
	upstream string
}

func (b *builder) ensure(ctx context.Context) (Result, error) {
	o := b.o
	if o.Image != "" && b.imageExists(ctx, o.Image) {
		fmt.Fprintf(o.Progress, "node image %s present\n", o.Image)
		return Result{Image: o.Image, DisableDefaultCNI: !strings.HasPrefix(o.Image, "kindest/")}, nil
	}
	b.upstream = "not tried: IDLAB_NODE_IMAGE_PULL=0 or --no-upstream"
	if !o.NoUpstream {
		up := UpstreamImageName(o.KubernetesVersion)
		if b.imageExists(ctx, up) || b.tryPull(ctx, up) {
			fmt.Fprintf(o.Progress, "node image %s (kind's own)\n", up)
			return Result{Image: up, Upstream: true}, nil
		}
		fmt.Fprintf(o.Progress, "node image %s not pulled (%s); using or building an offline one\n", up, b.upstream)
	}

	work := o.WorkDir
	keep := o.Getenv("IDLAB_KEEP_WORKDIR") == "1"
	if work == "" {
		d, err := os.MkdirTemp("", "idlab-nodeimage-")
		if err != nil {
			return Result{}, err
		}
		work = d
	} else {
		keep = true
		if err := os.MkdirAll(work, 0o755); err != nil {
			return Result{}, err
		}
	}
	b.r = &runner{logDir: filepath.Join(work, "logs"), log: o.Log}
	if err := os.MkdirAll(b.r.logDir, 0o755); err != nil {
		return Result{}, err
	}

	res, err := b.build(ctx, work)
	if err != nil {
		return res, fmt.Errorf("%w\nwork dir kept: %s", err, work)
	}
	if !keep {
		if err := os.RemoveAll(work); err != nil {
			o.Log.Warn("remove work dir", "dir", work, "err", err)
		}
	}
	return res, nil
}

func (b *builder) build(ctx context.Context, work string) (res Result, err error) {
	o := b.o
	p := b.progress

	// [1] inputs. The base image depends only on the Debian side and kind's
	// files; the node image also on the binaries, which are resolved here
	// when hack/build-k8s.sh has them cached.
	var image, baseImage string
	if err := p.step("resolve inputs (kind base files, cached binaries)", func() (string, error) {
		kind, err := b.kindFiles(ctx)
		if err != nil {
			return "", err
		}
		files, err := hashTree(kind)
		if err != nil {
			return "", err
		}
		if len(files) == 0 {
			return "", fmt.Errorf("kind base files %s: empty", kind)
		}
		b.kind = kind
		b.in = Inputs{KubernetesVersion: o.KubernetesVersion, Suite: o.Suite, Packages: Packages(), KindFiles: files, BaseRecipe: baseScript}
		baseImage = BaseImageName(b.in.BaseInputs().Hash())
		dir, ok, err := b.cachedBinDir(ctx)
		if err != nil || !ok {
			return "binaries not built yet", err
		}
		if err := b.resolveBinaries(ctx, dir); err != nil {
			return "", err
		}
		image = b.image()
		return image, nil
	}); err != nil {
		return Result{}, err
	}
	if image != "" && b.imageExists(ctx, image) {
		p.skipRest("image present")
		return Result{Image: image, DisableDefaultCNI: true}, nil
	}
	if err := requireRoot(); err != nil {
		return Result{}, needsRoot(err, o.KubernetesVersion, b.upstream)
	}
	// One build at a time per host: builds share container and tag names.
	unlock, err := lockFile(ctx, filepath.Join(os.TempDir(), "idlab-nodeimage.lock"))
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	if image != "" && b.imageExists(ctx, image) {
		p.skipRest("built meanwhile by another process")
		return Result{Image: image, DisableDefaultCNI: true}, nil
	}

	// Binaries build in the background while debootstrap runs.
	bctx, cancel := context.WithCancel(ctx)
	binsDone := make(chan error, 1)
	cachedBins := image != ""
	if cachedBins {
		binsDone <- nil
	} else {
		go func() {
			dir, err := b.binDir(bctx)
			if err == nil {
				err = b.resolveBinaries(bctx, dir)
			}
			binsDone <- err
		}()
	}
	binsWaited := false
	defer func() {
		cancel()
		if !binsWaited {
			<-binsDone
		}
	}()

	// [2,3] base image: debootstrap + kind base files, cached by its own hash.
	haveBase := b.imageExists(ctx, baseImage)
	rootfs := filepath.Join(work, "rootfs")
	if err := p.step("debootstrap "+o.Suite+" from "+o.Mirror, func() (string, error) {
		if haveBase {
			return "cached " + baseImage, nil
		}
		_, err := b.r.run(ctx, "debootstrap", nil, "debootstrap", DebootstrapArgs(o.Suite, rootfs, o.Mirror, Packages())...)
		return "", err
	}); err != nil {
		return Result{}, err
	}
	if err := p.step("kind base files, containerd config, import "+baseImage, func() (string, error) {
		if haveBase {
			return "cached", nil
		}
		script := filepath.Join(work, "base.sh")
		if err := os.WriteFile(script, []byte(baseScript), 0o755); err != nil {
			return "", err
		}
		_, err := b.r.runEnv(ctx, "base", []string{
			"ROOTFS=" + rootfs, "KIND_FILES=" + b.kind, "BASE_IMAGE=" + baseImage, "DOCKER=" + o.Docker,
		}, nil, "bash", script)
		if err != nil {
			return "", err
		}
		// The rootfs is in Docker now; free the disk early.
		return "", os.RemoveAll(rootfs)
	}); err != nil {
		return Result{}, err
	}

	// [4] binaries (hack/build-k8s.sh), started in the background above.
	if err := p.step("Kubernetes, etcd, CoreDNS binaries (hack/build-k8s.sh)", func() (string, error) {
		err := <-binsDone
		binsWaited = true
		if cachedBins {
			return "cached", err
		}
		return "", err
	}); err != nil {
		return Result{}, err
	}
	image = b.image()
	if b.imageExists(ctx, image) {
		p.skipRest("image present")
		return Result{Image: image, DisableDefaultCNI: true}, nil
	}

	// [5] component images in Docker, saved to one tarball.
	imagesTar := filepath.Join(work, "images.tar")
	if err := p.step(fmt.Sprintf("component images (%d)", len(b.in.Images)), func() (string, error) {
		return "", b.componentImagesTar(ctx, work, baseImage, b.in.Images, imagesTar)
	}); err != nil {
		return Result{}, err
	}

	// [6,7] node container: binaries, CNI config, images in containerd; commit.
	container := "idlab-nodeimage-build-" + b.in.Hash()[:12]
	defer func() {
		// Best effort; the container is only a build scratchpad.
		_, _ = b.r.run(context.WithoutCancel(ctx), "cleanup", nil, o.Docker, "rm", "-f", container)
	}()
	if err := p.step("node container: binaries, CNI config, images into containerd", func() (string, error) {
		return "", b.assemble(ctx, work, baseImage, container, imagesTar)
	}); err != nil {
		return Result{}, err
	}
	if err := p.step("commit "+image, func() (string, error) {
		_, err := b.r.run(ctx, "commit", nil, o.Docker, CommitArgs(container, image)...)
		return "", err
	}); err != nil {
		return Result{}, err
	}
	// [8] the component images live on in the node image; drop Docker's copies.
	if err := p.step("clean up", func() (string, error) {
		_, _ = b.r.run(ctx, "cleanup", nil, o.Docker, append([]string{"rmi"}, b.in.Images...)...)
		return "", nil
	}); err != nil {
		return Result{}, err
	}
	return Result{Image: image, Built: true, DisableDefaultCNI: true}, nil
}

// image is the node image name for the resolved inputs.
func (b *builder) image() string {
	if b.o.Image != "" {
		return b.o.Image
	}
	return ImageName(b.o.KubernetesVersion, b.in.Hash())
}

// resolveBinaries checks the binaries in dir, asks their kubeadm for the
// component images and completes b.in.
func (b *builder) resolveBinaries(ctx context.Context, dir string) error {
	if err := b.checkBinDir(ctx, dir); err != nil {
		return err
	}
	images, err := b.componentImages(ctx, dir)
	if err != nil {
		return err
	}
	bins := map[string]string{}
	for _, bin := range Binaries() {
		sum, err := hashFile(filepath.Join(dir, bin))
		if err != nil {
			return err
		}
		bins[bin] = sum
	}
	b.bins = dir
	b.in.Binaries = bins
	b.in.Images = images
	b.in.Recipe = cniConfig + "\n" + NodeFixupScript(b.o.KubernetesVersion, findImage(images, "pause")) + startContainerdScript + stopContainerdScript
	return nil
}

// componentImagesTar makes the control-plane images in Docker (binary FROM
// scratch via docker import; kube-proxy on the base for iptables) and saves
// them to path.
func (b *builder) componentImagesTar(ctx context.Context, work, baseImage string, images []string, path string) error {
	o := b.o
	for _, ref := range images {
		c, err := ComponentFor(ref)
		if err != nil {
			return err
		}
		bin := filepath.Join(b.bins, c.Binary)
		if c.OnBase {
			name := "idlab-nodeimage-" + c.Binary
			_, _ = b.r.run(ctx, "component-"+c.Binary, nil, o.Docker, "rm", "-f", name)
			if _, err := b.r.run(ctx, "component-"+c.Binary, nil, o.Docker, "create", "--name", name, baseImage); err != nil {
				return err
			}
			if _, err := b.r.run(ctx, "component-"+c.Binary, nil, o.Docker, "cp", bin, name+":"+c.Path); err != nil {
				return err
			}
			if _, err := b.r.run(ctx, "component-"+c.Binary, nil, o.Docker, "commit", "--change", c.entrypointChange(), name, ref); err != nil {
				return err
			}
			_, _ = b.r.run(ctx, "component-"+c.Binary, nil, o.Docker, "rm", "-f", name)
			continue
		}
		layer := filepath.Join(work, "layer-"+c.Binary+".tar")
		if err := writeSingleFileTar(layer, bin, c.Path); err != nil {
			return err
		}
		f, err := os.Open(layer)
		if err != nil {
			return err
		}
		_, err = b.r.run(ctx, "component-"+c.Binary, f, o.Docker, ImportArgs(c, ref)...)
		f.Close()
		os.Remove(layer)
		if err != nil {
			return err
		}
	}
	_, err := b.r.run(ctx, "save", nil, o.Docker, append([]string{"save", "-o", path}, images...)...)
	return err
}

func (b *builder) assemble(ctx context.Context, work, baseImage, container, imagesTar string) error {
	o := b.o
	d := func(args ...string) error {
		_, err := b.r.run(ctx, "assemble", nil, o.Docker, args...)
		return err
	}
	_ = d("rm", "-f", container)
	if err := d(BuildContainerArgs(container, baseImage)...); err != nil {
		return err
	}
	for _, c := range []struct{ bin, dst string }{
		{"kubeadm", "/usr/bin/kubeadm"}, {"kubelet", "/usr/bin/kubelet"}, {"kubectl", "/usr/bin/kubectl"},
		{"crictl", "/usr/local/bin/crictl"},
	} {
		if err := d("cp", filepath.Join(b.bins, c.bin), container+":"+c.dst); err != nil {
			return err
		}
	}
	cni := filepath.Join(work, filepath.Base(CNIConfigPath))
	if err := os.WriteFile(cni, []byte(cniConfig), 0o644); err != nil {
		return err
	}
	if err := d("cp", cni, container+":"+CNIConfigPath); err != nil {
		return err
	}
	if err := d("exec", container, "sh", "-c", NodeFixupScript(o.KubernetesVersion, findImage(b.in.Images, "pause"))); err != nil {
		return err
	}
	if err := d("exec", container, "sh", "-c", startContainerdScript); err != nil {
		return err
	}
	f, err := os.Open(imagesTar)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := b.r.run(ctx, "assemble", f, o.Docker, "exec", "-i", container,
		"ctr", "--namespace=k8s.io", "images", "import", "--all-platforms", "--no-unpack", "--digests", "-"); err != nil {
		return err
	}
	return d("exec", container, "sh", "-c", stopContainerdScript)
}

func (b *builder) imageExists(ctx context.Context, ref string) bool {
	cmd := exec.CommandContext(ctx, b.o.Docker, "image", "inspect", "--format", "{{.Id}}", ref)
	return cmd.Run() == nil
}

func (b *builder) tryPull(ctx context.Context, ref string) bool {
	ctx, cancel := context.WithTimeout(ctx, b.o.PullTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, b.o.Docker, "pull", "--quiet", ref).CombinedOutput()
	if err != nil {
		b.o.Log.Debug("pull failed; building offline", "image", ref, "err", err, "output", strings.TrimSpace(string(out)))
		b.upstream = pullFailure(ref, err, out, ctx.Err())
		return false
	}
	return true
}

// pullFailure says in one line why `docker pull ref` failed: the last
// line docker printed, or the timeout.
func pullFailure(ref string, err error, out []byte, ctxErr error) string {
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		return fmt.Sprintf("docker pull %s: no answer in time (no registry reachable?)", ref)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		return fmt.Sprintf("docker pull %s: %s", ref, last)
	}
	return fmt.Sprintf("docker pull %s: %v", ref, err)
}

// needsRoot explains a build that cannot run without root (err is
// ErrNotRoot): what needs root, why kindest/node was no way around it,
// and the ways there are.
func needsRoot(err error, kubernetesVersion, upstream string) error {
	if !errors.Is(err, ErrNotRoot) {
		return err
	}
	up := UpstreamImageName(kubernetesVersion)
	return fmt.Errorf("%w: no node image for Kubernetes %s here; %s is not available (%s), and building one offline runs debootstrap "+
		"and chroot, which need root. Either build it once as root (sudo -E make e2e, or sudo bin/idlab node-image; the image "+
		"is cached for later runs as any user), or give Docker %s where a registry is reachable (docker pull %s, or docker "+
		"save it on another machine and docker load it here)", err, kubernetesVersion, up, upstream, up, up)
}

// buildScript is the script that builds the binaries.
func (b *builder) buildScript() (string, error) {
	if b.o.BuildScript != "" {
		return b.o.BuildScript, nil
	}
	root, err := findRepoRoot()
	if err != nil {
		return "", fmt.Errorf("no BinDir and %w", err)
	}
	return filepath.Join(root, "hack", "build-k8s.sh"), nil
}

// cachedBinDir returns BinDir, or the build script's dir when its binaries are
// already built (IDLAB_BUILD_CHECK_ONLY=1 exits 3 when they are not).
func (b *builder) cachedBinDir(ctx context.Context) (string, bool, error) {
	if b.o.BinDir != "" {
		return b.o.BinDir, true, nil
	}
	script, err := b.buildScript()
	if err != nil {
		return "", false, err
	}
	out, err := b.r.runEnv(ctx, "build-k8s", []string{"IDLAB_K8S_VERSION=" + b.o.KubernetesVersion, "IDLAB_BUILD_CHECK_ONLY=1"}, nil, "bash", script)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return lastLine(out), true, nil
}

// binDir returns BinDir, or runs the build script (its progress goes to
// Progress) and returns the dir it prints.
func (b *builder) binDir(ctx context.Context) (string, error) {
	if b.o.BinDir != "" {
		return b.o.BinDir, nil
	}
	script, err := b.buildScript()
	if err != nil {
		return "", err
	}
	tee := *b.r
	tee.tee = b.o.Progress
	out, err := tee.runEnv(ctx, "build-k8s", []string{"IDLAB_K8S_VERSION=" + b.o.KubernetesVersion}, nil, "bash", script)
	if err != nil {
		return "", err
	}
	return lastLine(out), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// checkBinDir makes sure dir has every binary and its kubeadm is the release
// asked for (kubeadm decides the image tags).
func (b *builder) checkBinDir(ctx context.Context, dir string) error {
	for _, bin := range Binaries() {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return fmt.Errorf("binary dir %s: %w", dir, err)
		}
	}
	out, err := b.r.run(ctx, "build-k8s", nil, filepath.Join(dir, "kubeadm"), "version", "-o", "short")
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(out); got != b.o.KubernetesVersion {
		return fmt.Errorf("binaries in %s are Kubernetes %s, want %s (pin it in build/k8s/go.mod)", dir, got, b.o.KubernetesVersion)
	}
	return nil
}

func (b *builder) kindFiles(ctx context.Context) (string, error) {
	if b.o.KindFiles != "" {
		return b.o.KindFiles, nil
	}
	out, err := b.r.run(ctx, "kind-module", nil, "go", "mod", "download", "-json", "sigs.k8s.io/kind@"+KindVersion)
	if err != nil {
		return "", err
	}
	dir, err := moduleDir(out)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "images", "base", "files"), nil
}

// componentImages asks the built kubeadm which images it will run.
func (b *builder) componentImages(ctx context.Context, bins string) ([]string, error) {
	out, err := b.r.run(ctx, "kubeadm-images", nil, filepath.Join(bins, "kubeadm"),
		"config", "images", "list", "--kubernetes-version", b.o.KubernetesVersion)
	if err != nil {
		return nil, err
	}
	return ParseImageList(out)
}

func requireRoot() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	for _, tool := range []string{"debootstrap", "chroot", "tar", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found (run hack/setup-host.sh): %w", tool, err)
		}
	}
	return nil
}

// findRepoRoot walks up from the working dir to the idlab module root.
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/idlab/idlab\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the idlab checkout (set BinDir or BuildScript)")
		}
		dir = parent
	}
}
