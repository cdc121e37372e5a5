package awserrcodes

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// codeSyntax is what an AWS error code looks like: S3's KMS.NotFoundException
// has a dot, no code has a space.
var codeSyntax = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9.]*$`)

// ReadList reads a list of documented error codes: one code a line, then
// the source that documents it (a URL, a file at a commit); blank lines and
// lines starting with # are comments. It returns source by code, and fails
// on a line without a source, a malformed code or a code listed twice.
func ReadList(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		code, source := fields[0], strings.Join(fields[1:], " ")
		switch {
		case !codeSyntax.MatchString(code):
			return nil, fmt.Errorf("line %d: %q is not an error code", n, code)
		case source == "":
			return nil, fmt.Errorf("line %d: %s has no source", n, code)
		case out[code] != "":
			return nil, fmt.Errorf("line %d: %s listed twice", n, code)
		}
		out[code] = source
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read code list: %w", err)
	}
	return out, nil
}
