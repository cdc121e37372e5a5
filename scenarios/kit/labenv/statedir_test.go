package labenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness"
)

// TestFindStateDir: a test finds the lab of the repository it runs in
// from any directory below it (a suite two levels down, a user's package
// deeper still), the variable wins, and a .idlab without a lab in it (an
// old one, torn down) is passed over for one that has a lab.
func TestFindStateDir(t *testing.T) {
	root := t.TempDir()
	lab := filepath.Join(root, "repo", DefaultStateDir)
	require.NoError(t, os.MkdirAll(lab, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(lab, harness.StateFile), []byte("{}"), 0o644))
	empty := filepath.Join(root, "repo", "examples", "my-app-bug", DefaultStateDir) // no lab.json
	require.NoError(t, os.MkdirAll(empty, 0o755))
	deep := filepath.Join(root, "repo", "examples", "my-app-bug", "internal", "e2e")
	require.NoError(t, os.MkdirAll(deep, 0o755))
	outside := filepath.Join(root, "elsewhere")
	require.NoError(t, os.MkdirAll(outside, 0o755))

	noEnv := func(string) string { return "" }
	tests := []struct {
		name   string
		start  string
		getenv func(string) string
		want   string
	}{
		{name: "the repository root", start: filepath.Join(root, "repo"), getenv: noEnv, want: lab},
		{name: "a package deep below", start: deep, getenv: noEnv, want: lab},
		{name: "a .idlab without a lab is passed over", start: filepath.Join(root, "repo", "examples", "my-app-bug"), getenv: noEnv, want: lab},
		{name: "no lab above: idlab's default", start: outside, getenv: noEnv, want: DefaultStateDir},
		{name: "IDLAB_STATE_DIR wins", start: deep, getenv: func(k string) string {
			if k == "IDLAB_STATE_DIR" {
				return "/srv/lab/.idlab"
			}
			return ""
		}, want: "/srv/lab/.idlab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, findStateDir(tc.start, tc.getenv))
		})
	}
}
