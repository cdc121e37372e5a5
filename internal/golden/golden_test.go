package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that records a failure instead of stopping the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) FailNow()              { r.failed = true; panic(r) }
func (r *recorder) Helper()               {}

func check(t *testing.T, name string, v any) (failed bool) {
	r := &recorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		failed = r.failed
	}()
	JSON(r, name, v)
	return r.failed
}

func TestJSON(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.MkdirAll("testdata", 0o755))
	require.NoError(t, os.WriteFile(filepath.Join("testdata", "x.json"), []byte("{\n  \"a\": 1\n}\n"), 0o644))
	require.False(t, check(t, "x.json", map[string]int{"a": 1}), "same output passes")
	require.True(t, check(t, "x.json", map[string]int{"a": 2}), "changed output fails")
	require.True(t, check(t, "missing.json", 1), "a missing golden file fails")
}

func TestUpdateRewrites(t *testing.T) {
	t.Chdir(t.TempDir())
	*update = true
	t.Cleanup(func() { *update = false })
	require.False(t, check(t, "new.json", map[string]int{"a": 1}), "-update writes a missing file")
	require.False(t, check(t, "new.json", map[string]int{"a": 2}), "-update rewrites a changed one")
	*update = false
	raw, err := os.ReadFile(filepath.Join("testdata", "new.json"))
	require.NoError(t, err)
	require.Equal(t, "{\n  \"a\": 2\n}\n", string(raw))
	require.True(t, check(t, "new.json", map[string]int{"a": 1}), "without -update the file is the reference again")
}

func TestFlagIsUpdate(t *testing.T) {
	f := flag.Lookup("update")
	require.NotNil(t, f, "golden owns -update, as the Go tree names it")
	require.Equal(t, "false", f.DefValue)
}
