package gkemetadata_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/idlab/idlab/emulators/gkemetadata"
	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update-manifests", false, "rewrite testdata/manifests-*.json from the current Manifests")

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
			got, err := json.MarshalIndent(gkemetadata.Manifests("idlab/emulator:test", "idlab-system", tc.opts), "", "  ")
			require.NoError(t, err)
			file := filepath.Join("testdata", "manifests-"+tc.name+".json")
			if *updateGolden {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(file, append(got, '\n'), 0o644))
			}
			want, err := os.ReadFile(file)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got)+"\n")
		})
	}
}
