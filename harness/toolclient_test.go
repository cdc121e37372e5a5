package harness

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/labfile"
	"github.com/idlab/idlab/harness/nodeimage"
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

// buildToolImages builds rclone's image always and azure-cli's only when a
// cluster gets Azure identities, and stops at the first failure.
func TestBuildToolImages(t *testing.T) {
	for _, tc := range []struct {
		name     string
		clusters []ClusterConfig
		toolErr  error
		want     toolImages
		built    []string
		err      string
	}{
		{"eks, gke, aks", []ClusterConfig{DefaultCluster(labfile.EKS), DefaultCluster(labfile.GKE), DefaultCluster(labfile.AKS)}, nil,
			toolImages{Tool: "tool:1", Az: "az:1"}, []string{"tool", "az"}, ""},
		{"no aks: no azure-cli", []ClusterConfig{DefaultCluster(labfile.EKS)}, nil, toolImages{Tool: "tool:1"}, []string{"tool"}, ""},
		{"rclone's image fails", []ClusterConfig{DefaultCluster(labfile.AKS)}, errors.New("debootstrap failed"), toolImages{}, []string{"tool"}, "debootstrap failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(Config{Clusters: tc.clusters, StateDir: t.TempDir()})
			require.NoError(t, err)
			var built []string
			l.ToolClientImage = func(context.Context) (nodeimage.Result, error) {
				built = append(built, "tool")
				if tc.toolErr != nil {
					return nodeimage.Result{}, tc.toolErr
				}
				return nodeimage.Result{Image: "tool:1"}, nil
			}
			l.AzClientImage = func(context.Context) (nodeimage.Result, error) {
				built = append(built, "az")
				return nodeimage.Result{Image: "az:1"}, nil
			}
			var got toolImages
			err = l.buildToolImages(t.Context(), &got)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.built, built)
		})
	}
}
