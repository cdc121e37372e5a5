package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWrite(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(fmt.Sprintf("sync=%v", sync), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "a", "b", "state.json")
			require.NoError(t, WriteSync(p, []byte("one"), 0o600, sync))
			require.NoError(t, WriteSync(p, []byte("two"), 0o640, sync))
			got, err := os.ReadFile(p)
			require.NoError(t, err)
			require.Equal(t, "two", string(got))
			st, err := os.Stat(p)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o640), st.Mode().Perm())
			left, err := os.ReadDir(filepath.Dir(p))
			require.NoError(t, err)
			require.Len(t, left, 1, "no temporary files left behind")
		})
	}
}

func TestWriteFuncFillFails(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	require.NoError(t, Write(p, []byte("old"), 0o600))
	boom := errors.New("boom")
	err := WriteFunc(p, 0o600, false, func(w io.Writer) error {
		_, _ = w.Write([]byte("half"))
		return boom
	})
	require.ErrorIs(t, err, boom)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "old", string(got), "a failed fill leaves the old content")
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, left, 1, "the temporary file is removed on failure")
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

func TestIsTemp(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{".keys.json.tmp-123456789", true},
		{".0a1b.9f8e7d6c5b4a3921.data.tmp-42", true}, // an S3 object's bytes
		{"keys.json", false},
		{".keys.json", false},         // a dot file, not a temporary one
		{"keys.json.tmp-123", false},  // no leading dot: not Write's
		{".keys.json.tmp-", false},    // no digits
		{".keys.json.tmp-12a", false}, // not CreateTemp's digits
		{".tmp-123", false},           // no target name
		{".keys.tmp-1.json", false},   // the digits must end the name
		{".a.tmp-1.tmp-x", false},     // the last infix decides
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, IsTemp(tc.name))
		})
	}
}

func TestRemoveTemp(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) string {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	// Real data, written by Write, and look-alikes that are not its
	// temporary files.
	require.NoError(t, Write(filepath.Join(root, "state.json"), []byte(`{"kept":true}`), 0o600))
	require.NoError(t, Write(filepath.Join(root, "objects", "ab", "ab12.5f.data"), []byte("object bytes"), 0o600))
	kept := []string{
		write(".hidden", "dot file"),
		write("notes.tmp-1", "no leading dot"),
		write(".state.json.tmp-x1", "not digits"),
		filepath.Join(root, "state.json"),
		filepath.Join(root, "objects", "ab", "ab12.5f.data"),
	}
	// What a killed Write leaves, at every depth, named by Write's own
	// pattern; and a directory with such a name, which is not removed.
	var left []string
	for _, dir := range []string{root, filepath.Join(root, "objects", "ab"), filepath.Join(root, "uploads", "u1")} {
		require.NoError(t, os.MkdirAll(dir, 0o700))
		f, err := os.CreateTemp(dir, ".ab12.5f.data"+tempInfix+"*")
		require.NoError(t, err)
		_, err = f.WriteString("half an obj")
		require.NoError(t, err)
		require.NoError(t, f.Close())
		require.True(t, IsTemp(filepath.Base(f.Name())), f.Name())
		left = append(left, f.Name())
	}
	require.NoError(t, os.Mkdir(filepath.Join(root, ".dir.tmp-7"), 0o700))
	kept = append(kept, write(filepath.Join(".dir.tmp-7", "inside"), "kept"))

	require.NoError(t, RemoveTemp(root))
	for _, p := range left {
		require.NoFileExists(t, p)
	}
	for _, p := range kept {
		require.FileExists(t, p)
	}
	got, err := os.ReadFile(filepath.Join(root, "state.json"))
	require.NoError(t, err)
	require.Equal(t, `{"kept":true}`, string(got))

	require.NoError(t, RemoveTemp(filepath.Join(root, "missing")), "a store opening a new data dir")
	require.NoError(t, os.WriteFile(filepath.Join(root, "file"), nil, 0o600))
	require.ErrorContains(t, RemoveTemp(filepath.Join(root, "file", "below")), "remove temporary files under")
}

// FuzzIsTemp: names on disk are not ours to trust; IsTemp never panics and
// accepts only Write's shape.
func FuzzIsTemp(f *testing.F) {
	f.Add(".keys.json.tmp-123")
	f.Add("..tmp-")
	f.Add(".tmp-1")
	f.Fuzz(func(t *testing.T, name string) {
		if !IsTemp(name) {
			return
		}
		require.True(t, strings.HasPrefix(name, "."))
		i := strings.LastIndex(name, tempInfix)
		require.Greater(t, i, 0)
		require.NotEmpty(t, name[i+len(tempInfix):])
	})
}
