package gkemetadata_test

import (
	"testing"

	"github.com/idlab/idlab/components/gkemetadata"
	"github.com/idlab/idlab/internal/golden"
)

// TestManifestsGolden pins Manifests' objects, serialized to JSON, to the
// files in testdata, so a refactoring of the builders is proven not to
// change what is applied to the cluster.
func TestManifestsGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts gkemetadata.ManifestOptions
	}{
		{"bare", gkemetadata.ManifestOptions{ProjectID: "p", ProjectNumber: "1", ClusterName: "gke", ClusterLocation: "us-central1", IssuerURL: "https://issuer"}},
		{"ca", gkemetadata.ManifestOptions{ProjectID: "p", ProjectNumber: "1", ClusterName: "gke", ClusterLocation: "us-central1", IssuerURL: "https://issuer", CAConfigMap: "idlab-ca"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden.JSON(t, "manifests-"+tc.name+".json", gkemetadata.Manifests("idlab/emulator:test", "idlab-system", tc.opts))
		})
	}
}
