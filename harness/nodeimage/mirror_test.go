package nodeimage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSourcesList(t *testing.T) {
	tests := []struct {
		name, in string
		want     []AptSource
	}{
		{"plain", "deb http://deb.debian.org/debian bookworm main\n",
			[]AptSource{{URI: "http://deb.debian.org/debian", Suites: []string{"bookworm"}}}},
		{"options and comments", "# comment\ndeb [arch=amd64 signed-by=/k.gpg] https://m.example/debian/ bookworm main # trailing\n",
			[]AptSource{{URI: "https://m.example/debian/", Suites: []string{"bookworm"}}}},
		{"deb-src and junk skipped", "deb-src http://x/debian bookworm main\ndeb\nfoo bar baz\n", nil},
		{"unterminated options", "deb [arch=amd64 http://x/debian bookworm\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ParseSourcesList(tt.in))
		})
	}
}

const debianSources = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
`

func TestParseDeb822Sources(t *testing.T) {
	tests := []struct {
		name, in string
		want     []AptSource
	}{
		{"debian.sources", debianSources, []AptSource{
			{URI: "http://deb.debian.org/debian", Suites: []string{"bookworm", "bookworm-updates"}},
			{URI: "http://deb.debian.org/debian-security", Suites: []string{"bookworm-security"}},
		}},
		{"disabled and deb-src skipped", "Types: deb\nURIs: http://a/debian\nSuites: bookworm\nEnabled: no\n\nTypes: deb-src\nURIs: http://b/debian\nSuites: bookworm\n", nil},
		{"several URIs, continuation lines", "Types: deb deb-src\nURIs: http://a/debian\n http://b/debian\nSuites: bookworm\n", []AptSource{
			{URI: "http://a/debian", Suites: []string{"bookworm"}},
			{URI: "http://b/debian", Suites: []string{"bookworm"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ParseDeb822Sources(tt.in))
		})
	}
}

func TestPickMirror(t *testing.T) {
	sec := AptSource{URI: "http://deb.debian.org/debian-security", Suites: []string{"bookworm-security"}}
	main := AptSource{URI: "http://mirror.example/debian/", Suites: []string{"bookworm"}}
	other := AptSource{URI: "https://deb.nodesource.com/node_20.x", Suites: []string{"nodistro"}}
	require.Equal(t, "http://mirror.example/debian", PickMirror([]AptSource{sec, other, main}, "bookworm"))
	require.Equal(t, "", PickMirror([]AptSource{sec, other}, "bookworm"))
	require.Equal(t, "http://x/debian", PickMirror([]AptSource{other, {URI: "http://x/debian/", Suites: []string{"trixie"}}}, "bookworm"))
}

func TestHostMirrorAndResolve(t *testing.T) {
	root := t.TempDir()
	d := filepath.Join(root, "etc/apt/sources.list.d")
	require.NoError(t, os.MkdirAll(d, 0o755))
	// Files that are neither .list nor .sources are ignored.
	require.NoError(t, os.WriteFile(filepath.Join(d, "nodesource.sources.disabled"), []byte("Types: deb\nURIs: http://wrong/debian\nSuites: bookworm\n"), 0o644))
	require.Equal(t, "", HostMirror(root, "bookworm"))
	require.NoError(t, os.WriteFile(filepath.Join(d, "debian.sources"), []byte(debianSources), 0o644))
	require.Equal(t, "http://deb.debian.org/debian", HostMirror(root, "bookworm"))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/apt/sources.list"), []byte("deb http://first/debian bookworm main\n"), 0o644))
	require.Equal(t, "http://first/debian", HostMirror(root, "bookworm"))

	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "IDLAB_DEBIAN_MIRROR" {
				return v
			}
			return ""
		}
	}
	require.Equal(t, "http://override/debian", ResolveMirror(env("http://override/debian"), root, "bookworm"))
	require.Equal(t, "http://first/debian", ResolveMirror(env(""), root, "bookworm"))
	require.Equal(t, DefaultMirror, ResolveMirror(env(""), t.TempDir(), "bookworm"))
}

func FuzzParseSources(f *testing.F) {
	f.Add(debianSources)
	f.Add("deb [a=b] http://x/debian bookworm main\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, src := range append(ParseSourcesList(s), ParseDeb822Sources(s)...) {
			require.NotEmpty(t, src.URI)
		}
	})
}
