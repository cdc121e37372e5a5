package eksagent_test

import (
	"testing"

	"github.com/idlab/idlab/components/eksagent"
	"github.com/idlab/idlab/internal/golden"
)

// TestManifestsGolden pins Manifests' objects, serialized to JSON, to the
// files in testdata, so a refactoring of the builders is proven not to
// change what is applied to the cluster.
func TestManifestsGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts eksagent.ManifestOptions
	}{
		{"bare", eksagent.ManifestOptions{ClusterName: "eks", Region: "us-west-2"}},
		{"ca", eksagent.ManifestOptions{ClusterName: "eks", Region: "us-west-2", CAConfigMap: "idlab-ca"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden.JSON(t, "manifests-"+tc.name+".json", eksagent.Manifests("idlab/emulator:test", "idlab-system", tc.opts))
		})
	}
}
