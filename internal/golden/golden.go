// Package golden compares what a test produces with a file in the
// package's testdata, so a change in output (a refactoring's, say) shows as
// a failing test; `go test -update` rewrites the files from the current
// output instead, as in the Go tree (cmd/gofmt, go/printer).
//
// It owns the -update flag: a test package that compares golden files
// uses File or JSON and never defines its own, which would clash with
// this one ("flag redefined: update") as soon as both are linked.
package golden

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the current output")

// File requires got to equal the file at path (relative to the package,
// under testdata) byte for byte; with -update it first writes got there.
func File(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden file (go test -update writes it)")
	require.Equal(t, string(want), string(got))
}

// JSON requires v, marshalled as indented JSON, to equal the file
// testdata/name byte for byte.
func JSON(t testing.TB, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	File(t, filepath.Join("testdata", name), append(got, '\n'))
}
