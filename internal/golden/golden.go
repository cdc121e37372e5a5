// Package golden compares what a test produces with a file in the
// package's testdata, so a change in output (a refactoring's, say) shows as
// a failing test; `go test -args -update-golden` rewrites the files from
// the current output instead.
package golden

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update-golden", false, "rewrite the golden files in testdata from the current output")

// JSON requires v, marshalled as indented JSON, to equal the file
// testdata/name byte for byte.
func JSON(t testing.TB, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	file := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(file, got, 0o644))
	}
	want, err := os.ReadFile(file)
	require.NoError(t, err, "no golden file (go test -args -update-golden writes it)")
	require.Equal(t, string(want), string(got))
}
