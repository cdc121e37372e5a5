package harness

import (
	"context"
	"io"
	"slices"

	"github.com/idlab/idlab/harness/nodeimage"
)

// PyClientImage is the image of Debian's own AWS clients for Python:
// awscli and boto3 from the node image's suite, and Flask for the web app
// of the static-keys-to-IRSA walk-throughs (scenarios/migration), nothing
// else. Scenarios run their Python probe or app (scripts they mount) in
// it, to show what those unmodified clients do with the lab's identities. `idlab up --pyclient`
// builds it once per machine (a minute or two from a Debian mirror) and
// loads it into the clusters where AWS identities live.
func PyClientImage() nodeimage.DebianImage {
	return nodeimage.DebianImage{
		Repository: "idlab/pyclient",
		// debootstrap does not resolve virtual packages: python3-cryptography
		// (awscli) depends on python3-cffi-backend-api-*, which
		// python3-cffi-backend provides, so it is named here.
		Packages: []string{"awscli", "python3-boto3", "ca-certificates", "python3-cffi-backend", "python3-flask"},
		// No pager, no .pyc files written at run time into a read-only
		// image layer, UTF-8 output.
		Env:   []string{"AWS_PAGER=", "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8"},
		Check: []string{"sh", "-c", `python3 -c "import boto3, flask; print('boto3', boto3.__version__)" && aws --version`},
	}
}

// EnsurePyClientImage builds PyClientImage when Docker lacks it and returns
// its name.
func EnsurePyClientImage(ctx context.Context, cfg Config) (nodeimage.Result, error) {
	cfg = cfg.withDefaults()
	return nodeimage.EnsureDebianImage(ctx, PyClientImage(), nodeimage.Options{Progress: linePrefix{"pyclient: ", cfg.Progress}, Log: cfg.Log})
}

// linePrefix prefixes each write (a progress line) so the Python client
// image's steps read apart from the node image's, which build at the same
// time.
type linePrefix struct {
	prefix string
	w      io.Writer
}

func (p linePrefix) Write(b []byte) (int, error) {
	if _, err := p.w.Write(append([]byte(p.prefix), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// awsCluster reports whether pods in c get AWS identities (the IRSA webhook
// or gtoken runs there): the Python clients are only loaded into those
// clusters.
func awsCluster(c ClusterConfig) bool {
	return slices.Contains(c.Components, ComponentIRSAWebhook) || slices.Contains(c.Components, ComponentGToken)
}
