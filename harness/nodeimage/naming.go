package nodeimage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Inputs is everything that decides the content of a built node image. Equal
// Inputs give the same image name, so a second run finds the image and skips
// the build.
type Inputs struct {
	KubernetesVersion string
	Suite             string
	Packages          []string
	// KindFiles maps each file under kind's images/base/files (slash path) to
	// its mode and content hash.
	KindFiles map[string]string
	// Binaries maps each binary name to the hex SHA-256 of its content.
	Binaries map[string]string
	// Images are the component image references kubeadm expects.
	Images []string
	// BaseRecipe is the text of the base image script and Recipe that of the
	// node-level scripts and config, so any change to them changes the name.
	BaseRecipe string
	Recipe     string
}

// BaseInputs are the inputs of the base layer (debootstrap + kind base files),
// which is cached as its own image so rebuilding with new binaries skips
// debootstrap.
func (in Inputs) BaseInputs() Inputs {
	return Inputs{Suite: in.Suite, Packages: in.Packages, KindFiles: in.KindFiles, BaseRecipe: in.BaseRecipe}
}

// Hash returns a hex SHA-256 over a canonical rendering of the inputs.
func (in Inputs) Hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "idlab-nodeimage/%s\n", recipeVersion)
	fmt.Fprintf(h, "k8s %s\nsuite %s\n", in.KubernetesVersion, in.Suite)
	pkgs := append([]string(nil), in.Packages...)
	sort.Strings(pkgs)
	fmt.Fprintf(h, "packages %s\n", strings.Join(pkgs, ","))
	writeMap(h, "kind", in.KindFiles)
	writeMap(h, "bin", in.Binaries)
	imgs := append([]string(nil), in.Images...)
	sort.Strings(imgs)
	fmt.Fprintf(h, "images %s\n", strings.Join(imgs, ","))
	fmt.Fprintf(h, "base recipe %d\n%s\n", len(in.BaseRecipe), in.BaseRecipe)
	fmt.Fprintf(h, "recipe %d\n%s\n", len(in.Recipe), in.Recipe)
	return hex.EncodeToString(h.Sum(nil))
}

func writeMap(w io.Writer, prefix string, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s %s %s\n", prefix, k, m[k])
	}
}

// ImageName is the node image name for a Kubernetes version and inputs hash:
// idlab/node:<version>-<first 12 hex of hash>.
func ImageName(kubernetesVersion, hash string) string {
	if len(hash) > 12 {
		hash = hash[:12]
	}
	return fmt.Sprintf("%s:%s-%s", ImageRepository, kubernetesVersion, hash)
}

// BaseImageName is the cached base image (debootstrap + kind base files) name.
func BaseImageName(hash string) string {
	if len(hash) > 12 {
		hash = hash[:12]
	}
	return fmt.Sprintf("%s-base:%s", ImageRepository, hash)
}

// UpstreamImageName is kind's published node image for a Kubernetes version.
func UpstreamImageName(kubernetesVersion string) string {
	return "kindest/node:" + kubernetesVersion
}

// hashFile returns the hex SHA-256 of a file's content.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashTree maps every regular file under dir (slash paths) to "mode sha256".
func hashTree(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum, err := hashFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = fmt.Sprintf("%o %s", info.Mode().Perm(), sum)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", dir, err)
	}
	return out, nil
}
