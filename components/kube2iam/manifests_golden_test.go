package kube2iam_test

import (
	"testing"

	"github.com/idlab/idlab/components/kube2iam"
	"github.com/idlab/idlab/internal/golden"
)

// TestManifestsGolden pins Manifests' objects, serialized to JSON, to the
// files in testdata, so a refactoring of the builders is proven not to
// change what is applied to the cluster.
func TestManifestsGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts kube2iam.ManifestOptions
	}{
		{"bare", kube2iam.ManifestOptions{HostInterface: "cni0"}},
		{"full", kube2iam.ManifestOptions{HostInterface: "cni0", BaseRoleARN: "arn:aws:iam::111122223333:role/", DefaultRole: "d", NamespaceRestriction: true, Region: "us-west-2", UseRegionalSTS: true, CAConfigMap: "idlab-ca"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden.JSON(t, "manifests-"+tc.name+".json", kube2iam.Manifests("idlab/emulator:test", "idlab-system", tc.opts))
		})
	}
}
