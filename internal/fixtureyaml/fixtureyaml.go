// Package fixtureyaml is what every emulator's fixture loader shares:
// strict decoding that names the line of an unknown field, errors located as
// file:line, and the file listing of a fixture directory. One behaviour for
// awsiam, gcpiam, entra and eksauth fixtures, so a user's typo reads the same
// everywhere.
package fixtureyaml

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a bad fixture, located at file:line.
type Error struct {
	File string
	Line int
	Msg  string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }
func (e *Error) Unwrap() error { return e.Err }

// Files lists the fixture files at p: p itself, or the *.yaml and *.yml
// files of a directory in name order.
func Files(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("fixtures: %w", err)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("fixtures: %w", err)
	}
	var files []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
			files = append(files, filepath.Join(p, n))
		}
	}
	sort.Strings(files)
	return files, nil
}

// Load applies every fixture file at p (Files' order) with apply, which gets
// the file's name and bytes; errors are prefixed with service as the
// emulators' LoadFixtures have always said them.
func Load(p, service string, apply func(file string, raw []byte) error) error {
	files, err := Files(p)
	if err != nil {
		return fmt.Errorf("%s: %w", service, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("%s fixtures: %w", service, err)
		}
		if err := apply(f, raw); err != nil {
			return err
		}
	}
	return nil
}

// DecodeStrict decodes n into v (a pointer to a struct with yaml tags),
// refusing keys v has no field for, with the key's line, and anything but a
// mapping (or an empty node).
func DecodeStrict(n *yaml.Node, v any) error {
	if n.Kind == yaml.MappingNode {
		allowed := Fields(v)
		for k := 0; k+1 < len(n.Content); k += 2 {
			if key := n.Content[k]; !allowed[key.Value] {
				return &Error{Line: key.Line, Msg: fmt.Sprintf("unknown field %q", key.Value)}
			}
		}
	} else if n.Kind != 0 && n.Tag != "!!null" {
		return &Error{Line: n.Line, Msg: "want a mapping"}
	}
	return n.Decode(v)
}

// Fields are the yaml keys of the struct v points to.
func Fields(v any) map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return m
	}
	for i := 0; i < t.NumField(); i++ {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
			m[tag] = true
		}
	}
	return m
}

// Locate names file in err: an *Error gets the file, a yaml.v3 error its
// line. A nil err stays nil.
func Locate(file string, err error) error {
	if err == nil {
		return nil
	}
	var fe *Error
	if errors.As(err, &fe) {
		fe.File = file
		return fe
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return &Error{File: file, Line: ErrLine(errors.New(te.Errors[0])), Msg: te.Errors[0], Err: err}
	}
	return &Error{File: file, Line: ErrLine(err), Msg: err.Error(), Err: err}
}

// ErrLine pulls "line N" out of a yaml.v3 error message (0 when absent).
func ErrLine(err error) int {
	s := err.Error()
	k := strings.Index(s, "line ")
	if k < 0 {
		return 0
	}
	rest := s[k+5:]
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	n, _ := strconv.Atoi(rest[:end])
	return n
}

// DecodeKnown decodes n into v, refusing keys outside known with the line
// of the first unknown one and the list of known keys, and anything but a
// mapping.
func DecodeKnown(n *yaml.Node, v any, known ...string) error {
	if n.Kind != yaml.MappingNode {
		return &Error{Line: n.Line, Msg: "want a mapping"}
	}
	for k := 0; k+1 < len(n.Content); k += 2 {
		if key := n.Content[k]; !slices.Contains(known, key.Value) {
			return &Error{Line: key.Line, Msg: fmt.Sprintf("unknown field %q (known: %s)", key.Value, strings.Join(known, ", "))}
		}
	}
	return n.Decode(v)
}

// At returns err's line when it is an *Error with one, else fallback, and
// its message without location: for a loader that re-locates an error of
// DecodeKnown in its own words.
func At(err error, fallback int) (line int, msg string) {
	var fe *Error
	if errors.As(err, &fe) {
		if fe.Line > 0 {
			return fe.Line, fe.Msg
		}
		return fallback, fe.Msg
	}
	return fallback, err.Error()
}
