package harness

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/labfile"
)

func TestToolImagesForCluster(t *testing.T) {
	images := toolImages{Tool: "idlab/toolclient:1", Az: "idlab/azclient:2"}
	for _, tc := range []struct {
		name   string
		images toolImages
		c      ClusterConfig
		want   []string
	}{
		{"eks: rclone only", images, DefaultCluster(labfile.EKS), []string{"idlab/toolclient:1"}},
		{"gke: rclone only", images, DefaultCluster(labfile.GKE), []string{"idlab/toolclient:1"}},
		{"aks: rclone and azure-cli", images, DefaultCluster(labfile.AKS), []string{"idlab/toolclient:1", "idlab/azclient:2"}},
		{"an aks cluster without the Azure webhook: no azure-cli", images, ClusterConfig{Name: "aks"}, []string{"idlab/toolclient:1"}},
		{"no images (no --toolclient)", toolImages{}, DefaultCluster(labfile.AKS), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.images.forCluster(tc.c))
		})
	}
}

// The two images are Debian images of their own, named by the hash of
// what goes in, apart from the Python client image.
func TestToolClientImagesAreDistinctDebianImages(t *testing.T) {
	names := map[string]bool{}
	for _, img := range []string{ToolClientImage().Name("bookworm"), AzClientImage().Name("bookworm"), PyClientImage().Name("bookworm")} {
		require.False(t, names[img], img)
		names[img] = true
	}
	require.Regexp(t, `^idlab/toolclient:[0-9a-f]{12}$`, ToolClientImage().Name("bookworm"))
	require.Regexp(t, `^idlab/azclient:[0-9a-f]{12}$`, AzClientImage().Name("bookworm"))
	require.Contains(t, ToolClientImage().Packages, "rclone")
	require.Contains(t, AzClientImage().Packages, "azure-cli")
}
