package harness

import (
	"context"
	"slices"

	"github.com/idlab/idlab/harness/nodeimage"
)

// ToolClientImage is the image of Debian's rclone and nothing else (with
// the CA certificates), for the third-party rows (scenarios/thirdparty):
// an unmodified rclone reads S3 through IRSA, Cloud Storage through the
// GKE metadata server and Blob Storage (where its version can) in pods of
// every cluster. `idlab up --toolclient` builds it once per machine and
// loads it into every cluster; it is small (rclone is one static binary),
// so every cluster carries it.
func ToolClientImage() nodeimage.DebianImage {
	return nodeimage.DebianImage{
		Repository: "idlab/toolclient",
		Packages:   []string{"rclone", "ca-certificates"},
		Env:        []string{"LANG=C.UTF-8"},
		Check:      []string{"rclone", "version"},
	}
}

// AzClientImage is the image of Debian's azure-cli, for the third-party
// rows of the aks cluster: `az login --federated-token` with the token
// Azure Workload Identity projects, then `az storage blob download
// --auth-mode login`. azure-cli brings the whole Azure SDK for Python
// (python3-azure: about 650 MB installed), so it is an image of its own,
// loaded only where pods get Azure identities, not into every cluster as
// the small rclone image is.
func AzClientImage() nodeimage.DebianImage {
	return nodeimage.DebianImage{
		Repository: "idlab/azclient",
		// debootstrap does not resolve virtual packages, so their providers
		// are named: python3-cffi-backend (python3-cffi-backend-api-*, for
		// python3-cryptography), python3-ply (python3-ply-lex-3.10 and
		// -yacc-3.10) and libgirepository-1.0-1
		// (libgirepository-1.0-1-with-libffi8), all in azure-cli's
		// Depends closure in bookworm.
		Packages: []string{"azure-cli", "ca-certificates", "python3-cffi-backend", "python3-ply", "libgirepository-1.0-1"},
		// No .pyc files written into a read-only image layer at run time,
		// UTF-8 output; telemetry off (no upload attempts to hosts the lab
		// does not serve).
		Env:   []string{"PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8", "AZURE_CORE_COLLECT_TELEMETRY=false"},
		Check: []string{"az", "--version"},
	}
}

// EnsureToolClientImage builds ToolClientImage when Docker lacks it and
// returns its name.
func EnsureToolClientImage(ctx context.Context, cfg Config) (nodeimage.Result, error) {
	cfg = cfg.withDefaults()
	return nodeimage.EnsureDebianImage(ctx, ToolClientImage(), nodeimage.Options{Progress: linePrefix{"toolclient: ", cfg.Progress}, Log: cfg.Log})
}

// EnsureAzClientImage builds AzClientImage when Docker lacks it and
// returns its name.
func EnsureAzClientImage(ctx context.Context, cfg Config) (nodeimage.Result, error) {
	cfg = cfg.withDefaults()
	return nodeimage.EnsureDebianImage(ctx, AzClientImage(), nodeimage.Options{Progress: linePrefix{"azclient: ", cfg.Progress}, Log: cfg.Log})
}

// toolImages are the third-party client images a lab loads.
type toolImages struct {
	Tool, Az string
}

// forCluster lists the images cluster c gets: rclone everywhere, azure-cli
// where pods get Azure identities (the Azure Workload Identity webhook
// runs there).
func (t toolImages) forCluster(c ClusterConfig) []string {
	var out []string
	if t.Tool != "" {
		out = append(out, t.Tool)
	}
	if t.Az != "" && slices.Contains(c.Components, ComponentAzureWebhook) {
		out = append(out, t.Az)
	}
	return out
}
