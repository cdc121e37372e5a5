package embed_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestModuleIsOutsideIdlab: below github.com/idlab/idlab/ the internal
// packages are importable, and this module would no longer meet the
// restriction a user's module meets.
func TestModuleIsOutsideIdlab(t *testing.T) {
	raw, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^module\s+(\S+)\s*$`).FindSubmatch(raw)
	require.NotNil(t, m, "go.mod names its module")
	path := string(m[1])
	require.False(t, path == "github.com/idlab/idlab" || strings.HasPrefix(path, "github.com/idlab/idlab/"), "module %s", path)
}
