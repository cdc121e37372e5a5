package fixtureyaml

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

type role struct {
	Name string `yaml:"name"`
	Path string `yaml:"path,omitempty"`
}

func TestDecodeStrict(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
		line            int
	}{
		{"ok", "name: a\npath: /x/\n", "", 0},
		{"unknown field names its line", "name: a\n\ntrust: x\n", `unknown field "trust"`, 3},
		{"not a mapping", "- a\n", "want a mapping", 1},
		{"type error", "name: [1]\n", "cannot unmarshal", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var root yaml.Node
			require.NoError(t, yaml.Unmarshal([]byte(tc.doc), &root))
			var r role
			err := Locate("f.yaml", DecodeStrict(root.Content[0], &r))
			if tc.want == "" {
				require.Nil(t, DecodeStrict(root.Content[0], &r))
				require.Equal(t, "a", r.Name)
				return
			}
			require.ErrorContains(t, err, tc.want)
			var fe *Error
			require.ErrorAs(t, err, &fe)
			require.Equal(t, "f.yaml", fe.File)
			if tc.line > 0 {
				require.Equal(t, tc.line, fe.Line)
				require.Contains(t, err.Error(), fmt.Sprintf("f.yaml:%d: ", tc.line))
			}
		})
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.yaml", "a.yml", "c.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), nil, 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o700))
	files, err := Files(dir)
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(dir, "a.yml"), filepath.Join(dir, "b.yaml")}, files)
	one, err := Files(filepath.Join(dir, "c.txt"))
	require.NoError(t, err)
	require.Len(t, one, 1, "a file is taken as given")
	_, err = Files(filepath.Join(dir, "missing"))
	require.Error(t, err)
}

func TestErrLine(t *testing.T) {
	var v map[string]any
	err := yaml.Unmarshal([]byte("a: 1\nb: [\n"), &v)
	require.Error(t, err)
	require.Equal(t, 2, ErrLine(err), err.Error())
	require.Equal(t, 0, ErrLine(fmt.Errorf("no position")))
}

func TestLoadAppliesFilesInOrderAndPrefixesErrors(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"b.yml": "b", "a.yaml": "a", "skip.txt": "x"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	var seen []string
	require.NoError(t, Load(dir, "svc", func(file string, raw []byte) error {
		seen = append(seen, filepath.Base(file)+"="+string(raw))
		return nil
	}))
	require.Equal(t, []string{"a.yaml=a", "b.yml=b"}, seen)

	stop := fmt.Errorf("bad fixture")
	require.ErrorIs(t, Load(dir, "svc", func(string, []byte) error { return stop }), stop)
	err := Load(filepath.Join(dir, "missing"), "svc", func(string, []byte) error { return nil })
	require.ErrorContains(t, err, "svc: fixtures: ")
}

func TestDecodeKnown(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
		line            int
	}{
		{"ok", "name: a\npath: /x/\n", "", 0},
		{"unknown field lists the known ones", "name: a\n\ntrust: x\n", `unknown field "trust" (known: name, path)`, 3},
		{"not a mapping", "- a\n", "want a mapping", 1},
		{"type error keeps the fallback line", "name: [1]\n", "cannot unmarshal", 42},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var root yaml.Node
			require.NoError(t, yaml.Unmarshal([]byte(tc.doc), &root))
			var r role
			err := DecodeKnown(root.Content[0], &r, "name", "path")
			if tc.want == "" {
				require.NoError(t, err)
				require.Equal(t, role{Name: "a", Path: "/x/"}, r)
				return
			}
			line, msg := At(err, 42)
			require.Contains(t, msg, tc.want)
			require.Equal(t, tc.line, line)
		})
	}
}
