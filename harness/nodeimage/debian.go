package nodeimage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DebianImage is a container image made from a minbase debootstrap of the
// node image's suite and mirror plus Debian packages, nothing else: how the
// lab gets Debian-packaged clients (awscli, boto3) into pods where no
// registry is reachable. EnsureDebianImage builds it once per machine; the
// tag is the hash of everything that goes in.
type DebianImage struct {
	// Repository names the image, like "idlab/pyclient"; the tag is the
	// first 12 hex of the inputs hash.
	Repository string
	// Packages are installed by debootstrap --include (their Depends, not
	// their Recommends).
	Packages []string
	// Env are the image's ENV settings, KEY=VALUE.
	Env []string
	// Check is a command run in the new image before it is kept, like
	// ["aws", "--version"]; a failing check removes the image.
	Check []string
}

// debianTrimScript empties the caches and docs a client image has no use
// for. $1 is the rootfs.
const debianTrimScript = `set -e
R=$1
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/* "$R"/var/log/*.log \
  "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/info/*
`

// debianImportScript imports the rootfs $1 with docker $2 as image $3; the
// remaining arguments are docker import's (--change ...).
const debianImportScript = `set -o errexit -o pipefail
R=$1 DOCKER=$2 IMAGE=$3
shift 3
tar -C "$R" -c . | "$DOCKER" import "$@" - "$IMAGE"
`

// recipe renders everything but the suite and packages that decides the
// image's content, for the hash.
func (d DebianImage) recipe() string {
	return fmt.Sprintf("debian image %s\nchanges %q\ncheck %q\n%s%s", d.Repository, d.ImportChanges(), d.Check, debianTrimScript, debianImportScript)
}

// Name is the image's name for suite: Repository:<12 hex of the inputs hash>.
func (d DebianImage) Name(suite string) string {
	h := Inputs{Suite: suite, Packages: d.Packages, BaseRecipe: d.recipe()}.Hash()
	return d.Repository + ":" + h[:12]
}

// ImportChanges are the docker import --change arguments for the image: a
// PATH (an imported image has none), Env, and bash as the command.
func (d DebianImage) ImportChanges() []string {
	out := []string{"--change", "ENV PATH=" + imagePath}
	for _, e := range d.Env {
		out = append(out, "--change", "ENV "+e)
	}
	return append(out, "--change", `CMD ["/bin/bash"]`)
}

// EnsureDebianImage returns img built from opts.Suite and opts.Mirror (the
// node image's defaults), building it when Docker does not have it yet.
// Builds of Debian images take their own host lock, so one can run while a
// node image builds. Only Suite, Mirror, WorkDir, Docker, Progress, Log and
// Getenv of opts are used.
func EnsureDebianImage(ctx context.Context, img DebianImage, opts Options) (Result, error) {
	start := time.Now()
	o := opts.withDefaults()
	if img.Repository == "" || len(img.Packages) == 0 {
		return Result{}, fmt.Errorf("debian image: needs a repository and packages")
	}
	b := &builder{o: o, progress: newProgress(o.Progress, 3)}
	res, err := b.ensureDebian(ctx, img)
	res.Duration = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("debian image %s: %w", img.Repository, err)
	}
	return res, nil
}

func (b *builder) ensureDebian(ctx context.Context, img DebianImage) (Result, error) {
	o := b.o
	name := img.Name(o.Suite)
	if b.imageExists(ctx, name) {
		fmt.Fprintf(o.Progress, "image %s present\n", name)
		return Result{Image: name}, nil
	}
	if err := requireRoot(); err != nil {
		if errors.Is(err, ErrNotRoot) {
			err = fmt.Errorf("%w: building image %s runs debootstrap: build it once as root (sudo -E make e2e, or for the Python "+
				"client image sudo bin/idlab pyclient-image); it is cached for later runs as any user", err, name)
		}
		return Result{}, err
	}
	unlock, err := lockFile(ctx, filepath.Join(os.TempDir(), "idlab-debimage.lock"))
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	if b.imageExists(ctx, name) {
		fmt.Fprintf(o.Progress, "image %s built meanwhile by another process\n", name)
		return Result{Image: name}, nil
	}

	work, keep := o.WorkDir, o.Getenv("IDLAB_KEEP_WORKDIR") == "1" || o.WorkDir != ""
	if work == "" {
		if work, err = os.MkdirTemp("", "idlab-debimage-"); err != nil {
			return Result{}, err
		}
	}
	b.r = &runner{logDir: filepath.Join(work, "logs"), log: o.Log}
	if err := os.MkdirAll(b.r.logDir, 0o755); err != nil {
		return Result{}, err
	}
	if err := b.buildDebian(ctx, img, name, filepath.Join(work, "rootfs")); err != nil {
		return Result{}, fmt.Errorf("%w\nwork dir kept: %s", err, work)
	}
	if !keep {
		if err := os.RemoveAll(work); err != nil {
			o.Log.Warn("remove work dir", "dir", work, "err", err)
		}
	}
	return Result{Image: name, Built: true}, nil
}

func (b *builder) buildDebian(ctx context.Context, img DebianImage, name, rootfs string) error {
	o, p := b.o, b.progress
	if err := p.step(fmt.Sprintf("debootstrap %s from %s with %s", o.Suite, o.Mirror, strings.Join(img.Packages, ",")), func() (string, error) {
		_, err := b.r.run(ctx, "debootstrap", nil, "debootstrap", DebootstrapArgs(o.Suite, rootfs, o.Mirror, img.Packages)...)
		return "", err
	}); err != nil {
		return err
	}
	if err := p.step("trim and import "+name, func() (string, error) {
		if _, err := b.r.run(ctx, "import", nil, "bash", "-c", debianTrimScript, "trim", rootfs); err != nil {
			return "", err
		}
		args := append([]string{"-c", debianImportScript, "import", rootfs, o.Docker, name}, img.ImportChanges()...)
		if _, err := b.r.run(ctx, "import", nil, "bash", args...); err != nil {
			return "", err
		}
		return "", os.RemoveAll(rootfs)
	}); err != nil {
		return err
	}
	if len(img.Check) == 0 {
		return nil
	}
	return p.step("check: "+strings.Join(img.Check, " "), func() (string, error) {
		out, err := b.r.run(ctx, "check", nil, o.Docker, append([]string{"run", "--rm", "--network", "none", name}, img.Check...)...)
		if err != nil {
			// A broken image must not be found as cached next time.
			_, _ = b.r.run(context.WithoutCancel(ctx), "check", nil, o.Docker, "rmi", name)
			return "", err
		}
		return lastLine(out), nil
	})
}
