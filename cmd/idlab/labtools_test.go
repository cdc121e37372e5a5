package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/components/labca"
	"github.com/idlab/idlab/harness"
)

// labConfig parses args as a lab command does and resolves its Config.
func labConfig(t *testing.T, args ...string) (harness.Config, error) {
	t.Helper()
	env := &cliEnv{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	lo, err := labFlagSet("up", env)
	require.NoError(t, err)
	require.NoError(t, parse(lo.fs, args))
	return lo.config()
}

// TestLabConfig: -f names the clusters; without it the lab file the state
// directory remembers does; IDLAB_CLUSTERS beside a lab file, or a file
// that drops clusters of the lab that is up, is a usage mistake.
func TestLabConfig(t *testing.T) {
	t.Setenv("IDLAB_CLUSTERS", "")
	example, err := filepath.Abs("../../examples/idlab.yaml")
	require.NoError(t, err)
	exampleClusters, err := harness.LoadLabFile(example)
	require.NoError(t, err)
	def, err := harness.ConfigFromEnv(func(string) string { return "" })
	require.NoError(t, err)

	state := t.TempDir()
	cfg, err := labConfig(t, "--state-dir", state)
	require.NoError(t, err)
	require.Equal(t, def.Clusters, cfg.Clusters, "no file, nothing remembered: the default lab")
	require.Empty(t, cfg.LabFile)

	cfg, err = labConfig(t, "--state-dir", state, "-f", example)
	require.NoError(t, err)
	require.Equal(t, exampleClusters, cfg.Clusters)
	require.Equal(t, example, cfg.LabFile)

	t.Setenv("IDLAB_CLUSTERS", "eks")
	_, err = labConfig(t, "--state-dir", state, "-f", example)
	require.ErrorIs(t, err, errUsage)
	require.ErrorContains(t, err, "-f "+example+" and IDLAB_CLUSTERS both name the clusters")
	t.Setenv("IDLAB_CLUSTERS", "")

	// A default lab that is up (its lab.json) is not replaced by a lab
	// file that drops its clusters either.
	defState := writeState(t, harness.State{}, "eks", "gke", "aks")
	_, err = labConfig(t, "--state-dir", defState, "-f", example)
	require.ErrorIs(t, err, errUsage)
	require.ErrorContains(t, err, "(from the default lab) has clusters aks, eks, gke that "+example+" does not declare")

	// What idlab up -f leaves in the state dir.
	remember(t, state, example)
	cfg, err = labConfig(t, "--state-dir", state)
	require.NoError(t, err)
	require.Equal(t, exampleClusters, cfg.Clusters, "the remembered lab file, without -f")
	require.Equal(t, filepath.Join(state, harness.RememberedLabFile), cfg.LabFile)

	t.Setenv("IDLAB_CLUSTERS", "eks")
	_, err = labConfig(t, "--state-dir", state)
	require.ErrorIs(t, err, errUsage)
	require.ErrorContains(t, err, "was brought up from "+filepath.Join(state, harness.RememberedLabFile)+": IDLAB_CLUSTERS does not apply")
	t.Setenv("IDLAB_CLUSTERS", "")

	other := filepath.Join(t.TempDir(), "other.yaml")
	require.NoError(t, os.WriteFile(other, []byte("apiVersion: idlab.dev/v1alpha1\nkind: Lab\nclusters: [{name: dev, flavour: eks, region: us-east-1}]\n"), 0o644))
	_, err = labConfig(t, "--state-dir", state, "-f", other)
	require.ErrorIs(t, err, errUsage)
	require.ErrorContains(t, err, "has clusters prod-eu that "+other+" does not declare: idlab down first")
	cfg, err = labConfig(t, "--state-dir", state, "-f", example)
	require.NoError(t, err, "the same clusters again")
	require.Equal(t, exampleClusters, cfg.Clusters)
}

// remember puts a copy of the lab file src in state, where idlab up -f
// keeps it.
func remember(t *testing.T, state, src string) {
	t.Helper()
	raw, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(state, harness.RememberedLabFile), raw, 0o644))
}

// TestLabFileMistakes: a bad lab file stops a lab command before it does
// anything, with the file and line (exit 1); a usage mistake exits 2.
func TestLabFileMistakes(t *testing.T) {
	t.Setenv("IDLAB_CLUSTERS", "")
	bad := filepath.Join(t.TempDir(), "idlab.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("apiVersion: idlab.dev/v1alpha1\nkind: Lab\nclusters:\n  - name: a\n    flavour: eks\n    region: r\n    nodes: 9\n"), 0o644))
	tests := []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"up", "--state-dir", t.TempDir(), "-f", bad}, 1, "idlab up: " + bad + ":7: cluster \"a\": nodes: 9: want 1 to 8"},
		{[]string{"status", "--state-dir", t.TempDir(), "-f", filepath.Join(t.TempDir(), "none.yaml")}, 1, "idlab status: lab file: open"},
		{[]string{"load", "--state-dir", t.TempDir()}, 2, "idlab load: name at least one image"},
		{[]string{"load", "--state-dir", t.TempDir(), "--cluster", "nope", "app:1"}, 2, `idlab load: the lab has no cluster "nope" (it has eks, gke, aks)`},
	}
	for _, tc := range tests {
		t.Run(tc.args[0], func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, tc.wantCode, run(context.Background(), tc.args, &stdout, &stderr), stderr.String())
			require.Contains(t, stderr.String(), tc.want)
			require.Empty(t, stdout.String())
		})
	}
}

// writeState writes a lab.json in a fresh state dir with kubeconfigs for
// clusters.
func writeState(t *testing.T, st harness.State, clusters ...string) string {
	t.Helper()
	dir := t.TempDir()
	st.Clusters = map[string]harness.ClusterState{}
	for _, c := range clusters {
		kc := filepath.Join(dir, "kubeconfig-"+c+".yaml")
		require.NoError(t, os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\ncurrent-context: kind-"+c+"\n"), 0o600))
		st.Clusters[c] = harness.ClusterState{Name: c, Kubeconfig: kc}
	}
	raw, err := json.Marshal(st)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, harness.StateFile), raw, 0o644))
	return dir
}

func TestKubeconfig(t *testing.T) {
	two := writeState(t, harness.State{}, "eks", "gke")
	one := writeState(t, harness.State{}, "prod-eu")
	out := filepath.Join(t.TempDir(), "k.yaml")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		stdout   string
		stderr   string
	}{
		{"named", []string{"--state-dir", two, "--cluster", "gke"}, 0, "current-context: kind-gke", ""},
		{"the only one", []string{"--state-dir", one}, 0, "current-context: kind-prod-eu", ""},
		{"which one", []string{"--state-dir", two}, 2, "", "the lab has clusters eks, gke: name one with --cluster"},
		{"no such cluster", []string{"--state-dir", two, "--cluster", "aks"}, 2, "", `the lab has no cluster "aks" (it has eks, gke)`},
		{"no lab", []string{"--state-dir", t.TempDir()}, 1, "", "no lab is up"},
		{"to a file", []string{"--state-dir", two, "--cluster", "eks", "--output", out}, 0, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, tc.wantCode, run(context.Background(), append([]string{"kubeconfig"}, tc.args...), &stdout, &stderr), stderr.String())
			if tc.stdout == "" {
				require.Empty(t, stdout.String())
			} else {
				require.Contains(t, stdout.String(), tc.stdout)
			}
			require.Contains(t, stderr.String(), tc.stderr)
		})
	}
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Contains(t, string(raw), "current-context: kind-eks")
	fi, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

// TestReadBundle: the lab CA webhook reads the two files the lab mounts,
// and refuses a missing or empty one.
func TestReadBundle(t *testing.T) {
	dir := t.TempDir()
	_, err := readBundle(dir)
	require.ErrorContains(t, err, "lab CA bundle:")
	require.NoError(t, os.WriteFile(filepath.Join(dir, labca.BundleFile), []byte("ROOTS+LAB"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, labca.LabCAFile), nil, 0o644))
	_, err = readBundle(dir)
	require.ErrorContains(t, err, "is empty")
	require.NoError(t, os.WriteFile(filepath.Join(dir, labca.LabCAFile), []byte("LAB"), 0o644))
	b, err := readBundle(dir)
	require.NoError(t, err)
	require.Equal(t, labca.Bundle{All: []byte("ROOTS+LAB"), LabCA: []byte("LAB")}, b)
}
