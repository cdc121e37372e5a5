package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a", "b", "state.json")
	require.NoError(t, Write(p, []byte("one"), 0o600))
	require.NoError(t, Write(p, []byte("two"), 0o640))
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "two", string(got))
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), st.Mode().Perm())
	left, err := os.ReadDir(filepath.Dir(p))
	require.NoError(t, err)
	require.Len(t, left, 1, "no temporary files left behind")
}

func TestWriteFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "target")
	require.NoError(t, os.Mkdir(p, 0o700)) // a directory cannot be renamed over
	require.NoError(t, os.WriteFile(filepath.Join(p, "x"), nil, 0o600))
	err := Write(p, []byte("data"), 0o600)
	require.Error(t, err)
	require.Contains(t, err.Error(), "write "+p)
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, left, 1, "the temporary file is removed on failure")
}
