package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/idlab/idlab/harness"
)

// stringList is a flag that may be given several times (and takes
// comma-separated values).
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*s = append(*s, x)
		}
	}
	return nil
}

func loadCommand() command {
	return command{name: "load", summary: "load local Docker images into the lab's clusters (as kind load docker-image)", run: runLoad,
		usage: "load [--cluster NAME]... [flags] IMAGE...",
		about: `Copies images from the local Docker daemon into the nodes of the lab's
clusters, every cluster unless --cluster names some: no registry, as the
lab loads its own probe image. Pods then run them with
imagePullPolicy: IfNotPresent or Never. The clusters are the lab's in the
state directory (the lab file it was brought up from, or the default).`,
		env: labEnv[:3],
		examples: []example{
			{"idlab load myapp:dev", "load myapp:dev into every cluster of the lab"},
			{"idlab load --cluster eks myapp:dev debug:latest", "two images into the eks cluster only"},
		}}
}

func runLoad(ctx context.Context, env *cliEnv, args []string) error {
	lo, err := labFlagSet("load", env)
	if err != nil {
		return err
	}
	var clusters stringList
	lo.fs.Var(&clusters, "cluster", "cluster to load into (repeat, or comma-separated); default every cluster")
	if err := parse(lo.fs, args); err != nil {
		return err
	}
	if lo.fs.NArg() == 0 {
		return fmt.Errorf("%w: name at least one image", errUsage)
	}
	cfg, err := lo.config()
	if err != nil {
		return err
	}
	lab, err := harness.New(cfg)
	if err != nil {
		return err
	}
	err = lab.LoadImages(ctx, lo.fs.Args(), clusters...)
	var nce *harness.NoClusterError
	if errors.As(err, &nce) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return err
}

func kubeconfigCommand() command {
	return command{name: "kubeconfig", summary: "print a lab cluster's kubeconfig (or write it with --output)", run: runKubeconfig,
		usage: "kubeconfig [--cluster NAME] [--output FILE] [--state-dir DIR]",
		about: `Prints the kubeconfig idlab up wrote for a cluster of the lab (its API
server on 127.0.0.1), or writes it to --output (mode 0600). --cluster may
be left out when the lab has one cluster.`,
		env: labEnv[:1],
		examples: []example{
			{"idlab kubeconfig --cluster eks > eks.yaml", "the eks cluster's kubeconfig"},
			{"KUBECONFIG=$(idlab kubeconfig --cluster gke --output /tmp/gke.yaml && echo /tmp/gke.yaml) kubectl get pods -A", "use it right away"},
		}}
}

// stateDirFlag adds --state-dir, defaulting as the lab commands do.
func stateDirFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("IDLAB_STATE_DIR")
	if def == "" {
		def = ".idlab"
	}
	return fs.String("state-dir", def, "lab state directory (IDLAB_STATE_DIR)")
}

func runKubeconfig(_ context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("kubeconfig")
	stateDir := stateDirFlag(fs)
	name := fs.String("cluster", "", "the cluster (default: the lab's only one)")
	output := fs.String("output", "", "write the kubeconfig to this file (0600) instead of stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := harness.Open(*stateDir)
	if err != nil {
		return err
	}
	c, err := pickCluster(st, *name)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig of %s: %w", c.Name, err)
	}
	if *output == "" {
		_, err = env.stdout.Write(raw)
		return err
	}
	if err := os.WriteFile(*output, raw, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return os.Chmod(*output, 0o600) // an existing file keeps its mode otherwise
}

// pickCluster is the named cluster of the lab, or its only one.
func pickCluster(st *harness.State, name string) (harness.ClusterState, error) {
	names := make([]string, 0, len(st.Clusters))
	for n := range st.Clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	if name == "" {
		if len(names) == 1 {
			return st.Clusters[names[0]], nil
		}
		return harness.ClusterState{}, fmt.Errorf("%w: the lab has clusters %s: name one with --cluster", errUsage, strings.Join(names, ", "))
	}
	c, ok := st.Clusters[name]
	if !ok {
		return harness.ClusterState{}, fmt.Errorf("%w: the lab has no cluster %q (it has %s)", errUsage, name, strings.Join(names, ", "))
	}
	return c, nil
}
