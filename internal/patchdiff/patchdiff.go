// Package patchdiff computes the RFC 6902 JSON Patch that turns one JSON
// value into another, for mutating webhooks that change a pod in memory
// (as their upstreams do) and answer with the patch.
//
// The patch is small where a webhook's change is small: object members are
// added, replaced or removed one by one, and an array that gained elements
// at its front and its end is patched by inserting them, its other
// elements diffed in place. Any other array change is still exact, only
// larger.
package patchdiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Op is one RFC 6902 operation.
type Op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Values returns the operations that turn before into after, both the
// JSON encodings of values (structs, maps, slices), under path (a JSON
// Pointer, "" for the document root).
func Values(path string, before, after any) ([]Op, error) {
	a, err := generic(before)
	if err != nil {
		return nil, fmt.Errorf("patchdiff: before: %w", err)
	}
	b, err := generic(after)
	if err != nil {
		return nil, fmt.Errorf("patchdiff: after: %w", err)
	}
	return Diff(path, a, b), nil
}

// generic round-trips v through encoding/json into maps, slices and
// scalars (json.Number for numbers, so integers stay exact).
func generic(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// Diff returns the operations that turn a into b, generic JSON values
// (map[string]any, []any, string, json.Number, float64, bool, nil), under
// path. Applied in order to a document holding a at path, they leave b.
func Diff(path string, a, b any) []Op {
	return diff(path, a, b, false)
}

// diff is Diff where inArray says whether path names an array element: a
// changed element is replaced, a changed object member is set with "add",
// which also creates it.
func diff(path string, a, b any, inArray bool) []Op {
	set := func() []Op {
		if inArray {
			return []Op{{Op: "replace", Path: path, Value: b}}
		}
		return []Op{{Op: "add", Path: path, Value: b}}
	}
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return set()
		}
		return diffObject(path, av, bv)
	case []any:
		bv, ok := b.([]any)
		switch {
		case ok && len(av) == 0 && len(bv) == 0:
			return nil
		case !ok || len(av) == 0 || len(bv) < len(av):
			return set()
		}
		return diffArray(path, av, bv)
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return set()
}

// diffObject adds and replaces b's members and removes the members only a
// has, in key order so patches are reproducible.
func diffObject(path string, a, b map[string]any) []Op {
	var ops []Op
	for _, k := range sortedKeys(b) {
		p := path + "/" + escape(k)
		av, ok := a[k]
		if !ok {
			ops = append(ops, Op{Op: "add", Path: p, Value: b[k]})
			continue
		}
		ops = append(ops, diff(p, av, b[k], false)...)
	}
	for _, k := range sortedKeys(a) {
		if _, ok := b[k]; !ok {
			ops = append(ops, Op{Op: "remove", Path: path + "/" + escape(k)})
		}
	}
	return ops
}

// diffArray patches a (not empty) into b (no shorter), taking b as a's
// elements, each changed in place, with new elements around them: the
// first k of b inserted in front, the rest appended. k is the one that
// pairs most of a's elements with the same element of b (equal, or an
// object of the same "name": Kubernetes keys its lists of containers,
// volumes, mounts and variables by name), the smallest on a tie.
func diffArray(path string, a, b []any) []Op {
	best, bestSame := 0, -1
	for k := 0; k <= len(b)-len(a); k++ {
		if n := same(a, b[k:k+len(a)]); n > bestSame {
			best, bestSame = k, n
		}
	}
	var ops []Op
	for i, e := range b[:best] {
		ops = append(ops, Op{Op: "add", Path: path + "/" + strconv.Itoa(i), Value: e})
	}
	ops = append(ops, pairwise(path, a, b[best:best+len(a)], best)...)
	for _, e := range b[best+len(a):] {
		ops = append(ops, Op{Op: "add", Path: path + "/-", Value: e})
	}
	return ops
}

// same counts the pairs a[i], b[i] that are one element: equal, or objects
// with the same name.
func same(a, b []any) int {
	n := 0
	for i := range a {
		am, aok := a[i].(map[string]any)
		bm, bok := b[i].(map[string]any)
		switch {
		case reflect.DeepEqual(a[i], b[i]):
			n++
		case aok && bok && am["name"] != nil && reflect.DeepEqual(am["name"], bm["name"]):
			n++
		}
	}
	return n
}

// pairwise diffs a[i] with b[i], which sits at index offset+i of the array
// at path.
func pairwise(path string, a, b []any, offset int) []Op {
	var ops []Op
	for i := range a {
		ops = append(ops, diff(path+"/"+strconv.Itoa(offset+i), a[i], b[i], true)...)
	}
	return ops
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// escape encodes a member name as a JSON Pointer token (RFC 6901).
func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}
