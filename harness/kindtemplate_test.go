package harness

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/idlab/idlab/harness/cluster"
)

// TestKindTemplate: a given path must exist; without one, the working
// directory's kind-config.yaml is read when there is one, else the
// built-in template, so idlab works from any directory.
func TestKindTemplate(t *testing.T) {
	twoNodes := "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n  - role: worker\n"
	for _, tc := range []struct {
		name      string
		inDir     string // kind-config.yaml in the working directory; empty: none
		path      string
		wantNodes int
		wantErr   string
	}{
		{name: "built in, from any directory", wantNodes: 1},
		{name: "the working directory's", inDir: twoNodes, wantNodes: 2},
		{name: "a given path", path: "other.yaml", wantNodes: 2},
		{name: "a given path that is not there", path: "missing.yaml", wantErr: "missing.yaml"},
		{name: "a bad file in the working directory is an error, not skipped", inDir: "nodez: []\n", wantErr: "kind-config.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "other.yaml"), []byte(twoNodes), 0o644))
			if tc.inDir != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, DefaultKindConfig), []byte(tc.inDir), 0o644))
			}
			c, err := kindTemplate(tc.path)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, c.Nodes, tc.wantNodes)
			if tc.wantNodes == 1 {
				require.Equal(t, cluster.DefaultTemplate(), c)
				require.Equal(t, v1alpha4.ControlPlaneRole, c.Nodes[0].Role)
			}
		})
	}
}
