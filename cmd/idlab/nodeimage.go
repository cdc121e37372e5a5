package main

import (
	"context"
	"fmt"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/nodeimage"
)

func nodeImageCommand() command {
	return command{
		name:    "node-image",
		summary: "make sure a kind node image exists (kindest/node, else built offline)",
		run:     runNodeImage,
		about: `Makes sure a kind node image for the pinned Kubernetes version exists:
kindest/node when it can be pulled (unless IDLAB_NODE_IMAGE_PULL=0 or
--no-upstream), else one built offline from the Go module proxy and a
Debian mirror (debootstrap: needs root; 15-25 minutes on 2 cores the first
time, cached afterwards). Prints the image name on stdout.`,
		env: []envVar{
			{"IDLAB_NODE_IMAGE_PULL", "0: do not try kindest/node"},
			{"IDLAB_NODE_IMAGE", "the image to use when Docker has it, else the name a build gets (--image)"},
			{"IDLAB_DEBIAN_MIRROR", "the Debian mirror debootstrap uses (--mirror)"},
			{"IDLAB_KEEP_WORKDIR", "1: keep the build's work dir after a success"},
		},
	}
}

func runNodeImage(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("node-image")
	opts := nodeimage.Options{Progress: env.stderr, Log: env.log}
	fs.StringVar(&opts.KubernetesVersion, "k8s-version", nodeimage.DefaultKubernetesVersion, "Kubernetes version (must match build/k8s/go.mod)")
	fs.StringVar(&opts.Image, "image", "", "name for the built image (default idlab/node:<version>-<inputs hash>)")
	fs.StringVar(&opts.BinDir, "bin-dir", "", "dir with the binaries from hack/build-k8s.sh (default: run it)")
	fs.StringVar(&opts.Mirror, "mirror", "", "Debian mirror (default $IDLAB_DEBIAN_MIRROR, else the host's apt sources)")
	fs.StringVar(&opts.WorkDir, "work-dir", "", "keep the build's rootfs, tarballs and logs here (default a temp dir)")
	fs.BoolVar(&opts.NoUpstream, "no-upstream", false, "do not look for kindest/node; always use or build an idlab image")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	res, err := nodeimage.Ensure(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "node image ready in %.1fs (built: %t, disableDefaultCNI: %t)\n", res.Duration.Seconds(), res.Built, res.DisableDefaultCNI)
	// stdout carries only the image name, for scripts.
	fmt.Fprintln(env.stdout, res.Image)
	return nil
}

func pyClientImageCommand() command {
	return command{
		name:    "pyclient-image",
		summary: "make sure the image of Debian's awscli and boto3 exists (built once from a Debian mirror)",
		run:     runPyClientImage,
		about: `Makes sure the image of Debian's awscli, python3-boto3 and
python3-flask that the Python client and migration rows use exists: a minbase debootstrap of the node image's
Debian suite (needs root; about 3 minutes the first time). Prints the
image name on stdout. idlab up --pyclient does the same.`,
		env: []envVar{{"IDLAB_DEBIAN_MIRROR", "the Debian mirror debootstrap uses"}},
	}
}

// runPyClientImage builds what `idlab up --pyclient` would, so make e2e can
// build it while the node image builds.
func runPyClientImage(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("pyclient-image")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	res, err := harness.EnsurePyClientImage(ctx, harness.Config{Progress: env.stderr, Log: env.log})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "python client image ready in %.1fs (built: %t)\n", res.Duration.Seconds(), res.Built)
	fmt.Fprintln(env.stdout, res.Image)
	return nil
}

func toolClientImageCommand() command {
	return command{
		name:    "toolclient-image",
		summary: "make sure the images of Debian's rclone and azure-cli exist (built once from a Debian mirror)",
		run:     runToolClientImage,
		about: `Makes sure the third-party client images the thirdparty rows use
exist: idlab/toolclient (Debian's rclone, loaded into every cluster) and
idlab/azclient (Debian's azure-cli, loaded where pods get Azure
identities), each a minbase debootstrap of the node image's Debian suite
(needs root the first time; cached by the hash of what goes in). Prints
the two image names on stdout, one a line. idlab up --toolclient does the
same.`,
		env: []envVar{{"IDLAB_DEBIAN_MIRROR", "the Debian mirror debootstrap uses"}},
	}
}

// runToolClientImage builds what idlab up --toolclient would, so make
// e2e can build them while the node image builds.
func runToolClientImage(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("toolclient-image")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	cfg := harness.Config{Progress: env.stderr, Log: env.log}
	for _, ensure := range []func(context.Context, harness.Config) (nodeimage.Result, error){harness.EnsureToolClientImage, harness.EnsureAzClientImage} {
		res, err := ensure(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "%s ready in %.1fs (built: %t)\n", res.Image, res.Duration.Seconds(), res.Built)
		fmt.Fprintln(env.stdout, res.Image)
	}
	return nil
}
