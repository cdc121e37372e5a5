package nodeimage

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultMirror is the Debian mirror used when neither IDLAB_DEBIAN_MIRROR nor
// the host's apt sources name one.
const DefaultMirror = "http://deb.debian.org/debian"

// AptSource is one "deb" entry of an apt sources file.
type AptSource struct {
	URI    string
	Suites []string
}

// ParseSourcesList parses one-line-style apt sources (/etc/apt/sources.list,
// *.list): "deb [options] URI SUITE [COMPONENT...]". deb-src lines, comments
// and malformed lines are skipped.
func ParseSourcesList(content string) []AptSource {
	var out []AptSource
	s := bufio.NewScanner(strings.NewReader(content))
	for s.Scan() {
		line := s.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 3 || fields[0] != "deb" {
			continue
		}
		fields = fields[1:]
		if strings.HasPrefix(fields[0], "[") {
			// Options may span several fields: [arch=amd64 signed-by=...].
			for len(fields) > 0 && !strings.HasSuffix(fields[0], "]") {
				fields = fields[1:]
			}
			if len(fields) == 0 {
				continue
			}
			fields = fields[1:]
		}
		if len(fields) < 2 {
			continue
		}
		out = append(out, AptSource{URI: fields[0], Suites: []string{fields[1]}})
	}
	return out
}

// ParseDeb822Sources parses deb822-style apt sources (*.sources): stanzas
// separated by blank lines with Types, URIs, Suites and Enabled fields.
// Stanzas without "deb" in Types or with "Enabled: no" are skipped.
func ParseDeb822Sources(content string) []AptSource {
	var out []AptSource
	flush := func(st map[string]string) {
		if len(st) == 0 {
			return
		}
		if !containsWord(st["types"], "deb") || strings.EqualFold(strings.TrimSpace(st["enabled"]), "no") {
			return
		}
		suites := strings.Fields(st["suites"])
		for _, uri := range strings.Fields(st["uris"]) {
			out = append(out, AptSource{URI: uri, Suites: suites})
		}
	}
	st := map[string]string{}
	last := ""
	s := bufio.NewScanner(strings.NewReader(content))
	for s.Scan() {
		line := s.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush(st)
			st, last = map[string]string{}, ""
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t':
			// Continuation of the previous field (multi-line values).
			if last != "" {
				st[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			st[last] = strings.TrimSpace(v)
		}
	}
	flush(st)
	return out
}

func containsWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// PickMirror returns the URI of the first source that serves suite exactly
// (not suite-security or suite-updates), then the first source whose URI looks
// like a Debian archive, then "".
func PickMirror(sources []AptSource, suite string) string {
	for _, src := range sources {
		for _, s := range src.Suites {
			if s == suite {
				return strings.TrimSuffix(src.URI, "/")
			}
		}
	}
	for _, src := range sources {
		if strings.HasSuffix(strings.TrimSuffix(src.URI, "/"), "/debian") {
			return strings.TrimSuffix(src.URI, "/")
		}
	}
	return ""
}

// HostMirror reads the apt sources under root ("/" on a real host:
// etc/apt/sources.list, etc/apt/sources.list.d/*.list and *.sources) and
// returns the mirror serving suite, or "" if none does.
func HostMirror(root, suite string) string {
	var sources []AptSource
	if b, err := os.ReadFile(filepath.Join(root, "etc/apt/sources.list")); err == nil {
		sources = append(sources, ParseSourcesList(string(b))...)
	}
	dir := filepath.Join(root, "etc/apt/sources.list.d")
	entries, _ := os.ReadDir(dir)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(n, ".list"):
			sources = append(sources, ParseSourcesList(string(b))...)
		case strings.HasSuffix(n, ".sources"):
			sources = append(sources, ParseDeb822Sources(string(b))...)
		}
	}
	return PickMirror(sources, suite)
}

// ResolveMirror picks the debootstrap mirror: env (IDLAB_DEBIAN_MIRROR) first,
// then the host's apt sources under root, then DefaultMirror.
func ResolveMirror(getenv func(string) string, root, suite string) string {
	if m := strings.TrimSpace(getenv("IDLAB_DEBIAN_MIRROR")); m != "" {
		return m
	}
	if m := HostMirror(root, suite); m != "" {
		return m
	}
	return DefaultMirror
}
