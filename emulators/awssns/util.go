package awssns

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"sort"

	"github.com/idlab/idlab/internal/awsxml"
)

var accountRe = regexp.MustCompile(`^[0-9]{12}$`)

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// compactJSON strips insignificant whitespace; invalid JSON is returned as is.
func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// jsonObject reports whether s is one JSON object.
func jsonObject(s string) bool {
	var m map[string]any
	return json.Unmarshal([]byte(s), &m) == nil
}

// isCode reports whether err is the wire error code.
func isCode(err error, code string) bool {
	var e *awsxml.Error
	return errors.As(err, &e) && e.Code == code
}
