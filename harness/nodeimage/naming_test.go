package nodeimage

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func testInputs() Inputs {
	return Inputs{
		KubernetesVersion: "v1.34.4",
		Suite:             "bookworm",
		Packages:          Packages(),
		KindFiles:         map[string]string{"usr/local/bin/entrypoint": "755 aa"},
		Binaries:          map[string]string{"kubelet": "bb", "kubeadm": "cc"},
		Images:            []string{"registry.k8s.io/pause:3.10.1", "registry.k8s.io/etcd:3.6.5-0"},
		BaseRecipe:        "base",
		Recipe:            "recipe",
	}
}

func TestInputsHash(t *testing.T) {
	base := testInputs()
	h := base.Hash()
	require.Regexp(t, `^[0-9a-f]{64}$`, h)
	require.Equal(t, h, testInputs().Hash(), "deterministic")

	reordered := testInputs()
	reordered.Packages = append([]string(nil), base.Packages...)
	reordered.Packages[0], reordered.Packages[1] = reordered.Packages[1], reordered.Packages[0]
	reordered.Images = []string{base.Images[1], base.Images[0]}
	require.Equal(t, h, reordered.Hash(), "order of lists does not matter")

	changes := map[string]func(*Inputs){
		"version": func(in *Inputs) { in.KubernetesVersion = "v1.34.3" },
		"suite":   func(in *Inputs) { in.Suite = "trixie" },
		"package": func(in *Inputs) { in.Packages = append(in.Packages, "vim") },
		"kind":    func(in *Inputs) { in.KindFiles = map[string]string{"usr/local/bin/entrypoint": "755 ab"} },
		"binary":  func(in *Inputs) { in.Binaries = map[string]string{"kubelet": "bb", "kubeadm": "cd"} },
		"image":   func(in *Inputs) { in.Images = in.Images[:1] },
		"recipe":  func(in *Inputs) { in.Recipe = "recipe2" },
		"base":    func(in *Inputs) { in.BaseRecipe = "base2" },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			in := testInputs()
			change(&in)
			require.NotEqual(t, h, in.Hash())
		})
	}
}

func TestBaseInputsIgnoreBinaries(t *testing.T) {
	a, b := testInputs(), testInputs()
	b.Binaries = map[string]string{"kubelet": "other"}
	b.KubernetesVersion = "v1.34.3"
	b.Images = nil
	b.Recipe = "node-level change"
	require.Equal(t, a.BaseInputs().Hash(), b.BaseInputs().Hash())
	b.BaseRecipe = "changed"
	require.NotEqual(t, a.BaseInputs().Hash(), b.BaseInputs().Hash())
	b = testInputs()
	b.Packages = append(b.Packages, "vim")
	require.NotEqual(t, a.BaseInputs().Hash(), b.BaseInputs().Hash())
}

func TestImageNames(t *testing.T) {
	h := testInputs().Hash()
	name := ImageName("v1.34.4", h)
	require.Regexp(t, regexp.MustCompile(`^idlab/node:v1\.34\.4-[0-9a-f]{12}$`), name)
	require.Equal(t, "idlab/node:v1.34.4-"+h[:12], name)
	require.Equal(t, "idlab/node:v1.34.4-abc", ImageName("v1.34.4", "abc"))
	require.Equal(t, "idlab/node-base:"+h[:12], BaseImageName(h))
	require.Equal(t, "kindest/node:v1.34.4", UpstreamImageName("v1.34.4"))
}

func TestHashTree(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "a/b"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a/b/f"), []byte("x"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "g"), []byte("y"), 0o644))
	got, err := hashTree(dir)
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"a/b/f": "755 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
		"g":     "644 a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa",
	}, got)
}
