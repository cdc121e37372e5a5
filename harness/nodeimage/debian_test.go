package nodeimage

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDebianImageName(t *testing.T) {
	img := func() DebianImage {
		return DebianImage{Repository: "idlab/pyclient", Packages: []string{"awscli", "python3-boto3"},
			Env: []string{"AWS_PAGER="}, Check: []string{"aws", "--version"}}
	}
	name := img().Name("bookworm")
	require.Regexp(t, `^idlab/pyclient:[0-9a-f]{12}$`, name)
	require.Equal(t, name, img().Name("bookworm"), "deterministic")
	reordered := img()
	reordered.Packages = []string{"python3-boto3", "awscli"}
	require.Equal(t, name, reordered.Name("bookworm"), "package order does not matter")

	changes := map[string]func(*DebianImage) string{
		"suite":   func(d *DebianImage) string { return d.Name("trixie") },
		"package": func(d *DebianImage) string { d.Packages = append(d.Packages, "jq"); return d.Name("bookworm") },
		"env":     func(d *DebianImage) string { d.Env = nil; return d.Name("bookworm") },
		"check":   func(d *DebianImage) string { d.Check = []string{"true"}; return d.Name("bookworm") },
		"repository": func(d *DebianImage) string {
			d.Repository = "idlab/other"
			return d.Name("bookworm")[len("idlab/other:"):]
		},
	}
	for what, change := range changes {
		d := img()
		got := change(&d)
		require.NotEqual(t, name, got, what)
		require.NotEqual(t, name[len("idlab/pyclient:"):], got, "%s changes the hash", what)
	}
}

func TestDebianImageImportChanges(t *testing.T) {
	d := DebianImage{Env: []string{"AWS_PAGER=", "LANG=C.UTF-8"}}
	require.Equal(t, []string{"--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "--change", "ENV AWS_PAGER=", "--change", "ENV LANG=C.UTF-8", "--change", `CMD ["/bin/bash"]`}, d.ImportChanges())
}

func TestEnsureDebianImageNeedsPackages(t *testing.T) {
	_, err := EnsureDebianImage(context.Background(), DebianImage{Repository: "idlab/x"}, Options{Docker: "false"})
	require.ErrorContains(t, err, "needs a repository and packages")
	_, err = EnsureDebianImage(context.Background(), DebianImage{Packages: []string{"jq"}}, Options{Docker: "false"})
	require.ErrorContains(t, err, "needs a repository and packages")
}
