package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/cni"
)

// labEnv is what the lab commands read from the environment.
var labEnv = []envVar{
	{"IDLAB_STATE_DIR", "the lab's state: keys, CA, admin socket and secret, lab.json (default .idlab; --state-dir)"},
	{"IDLAB_PORT", "the emulator's port on 127.0.0.1 (default 8443; --port)"},
	{"IDLAB_CLUSTERS", "which clusters to make (default eks,gke,aks; every suite needs its cluster); not with a lab file"},
	{"IDLAB_CNI", "the clusters' pod network: bridge (default on the offline node image), ptp (a veth per pod, as kindnet), kindnet (default on kindest/node) (--cni)"},
	{"IDLAB_NODE_IMAGE_PULL", "0: build the kind node image offline instead of pulling kindest/node"},
	{"IDLAB_NODE_IMAGE", "a kind node image to use when Docker has it (one docker load put back from a CI cache)"},
	{"IDLAB_DEBIAN_MIRROR", "the Debian mirror the offline image builds use"},
	{"IDLAB_DEBUG", "any value: debug logging"},
}

func upCommand() command {
	return command{name: "up", summary: "bring up the lab: kind clusters, emulator container, cluster DNS", run: runUp,
		about: `Brings up the lab and leaves it up until idlab down: the kind node image
(pulled, or built offline once), one kind cluster per IDLAB_CLUSTERS entry
or per cluster of the lab file (-f idlab.yaml, docs/lab.md) whose
service-account issuer the emulator hosts, the emulator container, cluster
DNS for the cloud host names and the issuers' hosts, and the in-cluster
components. Healthy clusters of an earlier up are reused. Prints the
emulator URL, the CA, the admin API and each cluster's issuer and
kubeconfig on stdout; progress goes to stderr.

A cluster of the lab file with a kubeconfig (and context) is an existing
one: idlab does not create it; it trusts the cluster's own
service-account issuer as a cloud does (its discovery document and keys
read through the API server, an IAM OIDC provider for an eks cluster),
runs the emulator inside it as a Deployment (namespace idlab-cloud; the
admin API reached by port-forward), points its CoreDNS at it and deploys
the admission webhooks (irsa-webhook, lab-ca). down removes only that.
A kind cluster (kindCluster) gets the images with kind; another needs
--emulator-image. See docs/existing-cluster.md.

A lab file declares each cluster's flavour (eks, gke, aks), issuer URL,
region, account, project or tenant and components; an eks cluster's
issuer gets an IAM OIDC provider in its account, so a trust policy copied
from the real account works. up keeps a copy of the file in the state
directory: status, down, e2e and the other lab commands then act on that
lab without -f, until idlab down.

Without --kind-config the template is ./kind-config.yaml when there is
one, else the built-in one (one control-plane node). --fixtures is read
from the working directory (fixtures/aws, with gcp/, eks/ and azure/
beside it): give it when running outside a checkout.`,
		env: labEnv,
		examples: []example{
			{"idlab up --probe bin/probe --pyclient --toolclient", "what make up runs: the lab with the SDK probe, Debian's awscli/boto3 image and Debian's rclone and azure-cli images"},
			{"IDLAB_CLUSTERS=eks idlab up", "only the eks cluster"},
			{"idlab up -f examples/idlab.yaml", "the clusters of a lab file (an EKS cluster with a real account's issuer)"},
			{"KUBECONFIG=.idlab/kubeconfig-eks.yaml kubectl get pods -A", "use a cluster once it is up"},
		}}
}

func downCommand() command {
	return command{name: "down", summary: "delete the lab's clusters, emulator container and state", run: runDown,
		about: `Deletes the lab's kind clusters and emulator container and removes its
state directory. Works from any directory given the state directory
(--state-dir or IDLAB_STATE_DIR); a lab that is not there is not an error.
A lab brought up from a lab file is torn down from the copy in the state
directory, without -f.`,
		env:      labEnv[:3],
		examples: []example{{"idlab down", "tear down the lab of ./.idlab"}}}
}

func statusCommand() command {
	return command{name: "status", summary: "show the lab's clusters and emulator", run: runStatus,
		about: `Prints where the lab's clusters come from (the lab file, or the default),
then one line per cluster and one for the emulator container: whether
each is there and running. Works from any directory given the state
directory (--state-dir or IDLAB_STATE_DIR).`,
		env:      labEnv[:3],
		examples: []example{{"IDLAB_STATE_DIR=~/src/idlab/.idlab idlab status", "the status of a lab brought up elsewhere"}}}
}

// labFlags parses the flags every lab command shares over ConfigFromEnv.
func labFlags(name string, env *cliEnv, args []string) (harness.Config, error) {
	lo, err := labFlagSet(name, env)
	if err != nil {
		return harness.Config{}, err
	}
	if err := parse(lo.fs, args); err != nil {
		return harness.Config{}, err
	}
	if lo.fs.NArg() > 0 {
		return harness.Config{}, fmt.Errorf("%w: unexpected arguments %v", errUsage, lo.fs.Args())
	}
	return lo.config()
}

// labOptions are the lab commands' shared flags (labFlagSet) over
// ConfigFromEnv; config turns them into the lab's Config once parsed.
type labOptions struct {
	fs   *flag.FlagSet
	cfg  *harness.Config
	file string // -f
	env  *cliEnv
}

// labFlagSet is labFlags' flag set, for commands that add flags of their
// own; lo.config gives the Config once fs is parsed.
func labFlagSet(name string, env *cliEnv) (*labOptions, error) {
	c, err := harness.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	lo := &labOptions{cfg: &c, env: env}
	cfg := lo.cfg
	fs := env.flagSet(name)
	lo.fs = fs
	fs.StringVar(&lo.file, "f", "", "lab file (idlab.yaml: clusters, issuers, regions, accounts, components; docs/lab.md); default: the one the lab in the state directory was brought up from, else the default lab")
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "lab state directory (IDLAB_STATE_DIR)")
	fs.IntVar(&cfg.HostPort, "port", cfg.HostPort, "emulator port on 127.0.0.1 (IDLAB_PORT)")
	fs.StringVar(&cfg.KindConfig, "kind-config", "", "kind cluster template (default ./kind-config.yaml when there is one, else the built-in one)")
	fs.StringVar(&cfg.FixturesDir, "fixtures", "fixtures/aws", "IAM fixtures directory")
	fs.StringVar(&cfg.ProbeBinary, "probe", "", "static SDK probe binary to load into the clusters")
	fs.StringVar(&cfg.EmulatorImage, "emulator-image", "", "an existing cluster's emulator and component image (an idlab image you pushed where the cluster pulls from); default: built from this binary and loaded with kind, for a kind cluster")
	fs.StringVar(&cfg.GTokenBinary, "gtoken", "", "static gtoken token writer (cmd/gtoken) the gtoken webhook injects (default: gtoken beside this binary)")
	fs.BoolVar(&cfg.PyClient, "pyclient", false, "build (once) and load the image of Debian's awscli and boto3 into the clusters whose pods get AWS identities (IRSA, gtoken)")
	fs.BoolVar(&cfg.ToolClient, "toolclient", false, "build (once) and load the third-party client images: Debian's rclone into every cluster, Debian's azure-cli into the clusters whose pods get Azure identities")
	fs.Func("cni", "pod network: bridge, ptp or kindnet (IDLAB_CNI; default: kindnet on kindest/node, else bridge)", func(s string) error {
		n, err := cni.Parse(s)
		cfg.CNI = n
		return err
	})
	cfg.Progress, cfg.Log = env.stderr, env.log
	return lo, nil
}

// config is the lab's Config: the clusters of -f's lab file, else of the
// lab file the state directory remembers (idlab up -f left a copy), else
// IDLAB_CLUSTERS' or the default ones. IDLAB_CLUSTERS beside a lab file
// is a mistake, and so is a lab file that leaves out clusters of the lab
// that is up, from a lab file or not (idlab down deletes them first).
func (lo *labOptions) config() (harness.Config, error) {
	cfg := *lo.cfg
	envClusters := os.Getenv("IDLAB_CLUSTERS")
	remembered, source, ok, err := harness.RememberedLab(cfg.StateDir)
	if err != nil {
		return cfg, err
	}
	switch {
	case lo.file != "" && envClusters != "":
		return cfg, fmt.Errorf("%w: -f %s and IDLAB_CLUSTERS both name the clusters: give one", errUsage, lo.file)
	case lo.file != "":
		clusters, err := harness.LoadLabFile(lo.file)
		if err != nil {
			return cfg, err
		}
		live := remembered
		if !ok {
			source = "the default lab"
			if st, err := harness.Open(cfg.StateDir); err == nil {
				for _, c := range st.Clusters {
					live = append(live, harness.ClusterConfig{Name: c.Name})
				}
			}
		}
		if gone := missing(live, clusters); len(gone) > 0 {
			slices.Sort(gone)
			return cfg, fmt.Errorf("%w: the lab in %s (from %s) has clusters %s that %s does not declare: idlab down first (it deletes them), or declare them",
				errUsage, cfg.StateDir, source, strings.Join(gone, ", "), lo.file)
		}
		cfg.Clusters, cfg.LabFile = clusters, lo.file
	case ok && envClusters != "":
		return cfg, fmt.Errorf("%w: the lab in %s was brought up from %s: IDLAB_CLUSTERS does not apply (unset it, or idlab down first)", errUsage, cfg.StateDir, source)
	case ok:
		cfg.Clusters, cfg.LabFile = remembered, filepath.Join(cfg.StateDir, harness.RememberedLabFile)
	}
	return cfg, nil
}

// missing names the clusters of old that new does not declare.
func missing(old, new []harness.ClusterConfig) []string {
	var out []string
	for _, o := range old {
		if !slices.ContainsFunc(new, func(n harness.ClusterConfig) bool { return n.Name == o.Name }) {
			out = append(out, o.Name)
		}
	}
	return out
}

func logsCommand() command {
	return command{name: "logs", summary: "export cluster and emulator logs to a directory", run: runLogs,
		usage: "logs [--dir DIR] [flags]",
		about: `Exports every cluster's logs (kind export logs) and the emulator
container's log to DIR (default artifacts/logs). idlab e2e does this by
itself when a run fails.`,
		env:      labEnv[:3],
		examples: []example{{"idlab logs --dir /tmp/lab-logs", "what to attach to a bug report"}}}
}

func runLogs(ctx context.Context, env *cliEnv, args []string) error {
	dir := "artifacts/logs"
	var rest []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--dir" && i+1 < len(args) {
			dir = args[i+1]
			i++
			continue
		}
		rest = append(rest, args[i])
	}
	cfg, err := labFlags("logs", env, rest)
	if err != nil {
		return err
	}
	lab, err := harness.New(cfg)
	if err != nil {
		return err
	}
	return lab.ExportLogs(ctx, dir)
}

func runUp(ctx context.Context, env *cliEnv, args []string) error {
	cfg, err := labFlags("up", env, args)
	if err != nil {
		return err
	}
	lab, err := harness.New(cfg)
	if err != nil {
		return err
	}
	st, err := lab.Up(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", errLab, err)
	}
	fmt.Fprintf(env.stdout, "lab up: emulator %s (CA %s)\n", st.EmulatorURL, st.CAFile)
	if copy := filepath.Join(st.Dir, harness.RememberedLabFile); st.LabFile == copy {
		fmt.Fprintf(env.stdout, "  from the lab file remembered in %s\n", copy)
	} else if st.LabFile != "" {
		fmt.Fprintf(env.stdout, "  from lab file %s (remembered in %s)\n", st.LabFile, copy)
	}
	if f := st.Forward; f != nil {
		fmt.Fprintf(env.stdout, "  emulator inside the cluster (%s, pods %s): cloud plane port %d, admin API 127.0.0.1:%d in the pod, reached by port-forward with %s (bearer secret in %s)\n",
			f.Namespace, f.Selector, f.CloudPort, f.AdminPort, f.Kubeconfig, st.AdminSecretFile)
	} else {
		fmt.Fprintf(env.stdout, "  admin API %s (bearer secret in %s)\n", st.AdminAddr, st.AdminSecretFile)
	}
	for _, c := range st.Clusters {
		fmt.Fprintf(env.stdout, "  cluster %s: issuer %s, kubeconfig %s\n", c.Name, c.IssuerURL, c.Kubeconfig)
	}
	return nil
}

func runDown(ctx context.Context, env *cliEnv, args []string) error {
	cfg, err := labFlags("down", env, args)
	if err != nil {
		return err
	}
	lab, err := harness.New(cfg)
	if err != nil {
		return err
	}
	if err := lab.Down(ctx); err != nil {
		return fmt.Errorf("%w: %w", errLab, err)
	}
	return nil
}

func runStatus(ctx context.Context, env *cliEnv, args []string) error {
	cfg, err := labFlags("status", env, args)
	if err != nil {
		return err
	}
	lab, err := harness.New(cfg)
	if err != nil {
		return err
	}
	lines, err := lab.Status(ctx)
	for _, l := range lines {
		fmt.Fprintln(env.stdout, l)
	}
	return err
}
