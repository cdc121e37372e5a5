package patchdiff

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

func parse(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var v any
	require.NoError(t, d.Decode(&v))
	return v
}

// apply runs ops on {"x": before} and returns the new value of x.
func apply(t testing.TB, before string, ops []Op) any {
	t.Helper()
	patch, err := json.Marshal(ops)
	require.NoError(t, err)
	p, err := jsonpatch.DecodePatch(patch)
	require.NoError(t, err)
	out, err := p.Apply([]byte(`{"x":` + before + `}`))
	require.NoError(t, err, "patch %s", patch)
	return parse(t, string(out)).(map[string]any)["x"]
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name, a, b string
		want       []Op
	}{
		{"equal", `{"a":[1,{"b":"c"}]}`, `{"a":[1,{"b":"c"}]}`, nil},
		{"member added", `{"a":1}`, `{"a":1,"b":2}`, []Op{{Op: "add", Path: "/x/b", Value: json.Number("2")}}},
		{"member removed", `{"a":1,"b":2}`, `{"a":1}`, []Op{{Op: "remove", Path: "/x/b"}}},
		{"member changed", `{"a":1}`, `{"a":"1"}`, []Op{{Op: "add", Path: "/x/a", Value: "1"}}},
		{"appended", `{"env":[{"n":"A"}]}`, `{"env":[{"n":"A"},{"n":"B"}]}`,
			[]Op{{Op: "add", Path: "/x/env/-", Value: map[string]any{"n": "B"}}}},
		{"array created", `{"env":[]}`, `{"env":[{"n":"B"}]}`,
			[]Op{{Op: "add", Path: "/x/env", Value: []any{map[string]any{"n": "B"}}}}},
		{"prepended, the others changed in place", `[{"name":"app"}]`, `[{"name":"side"},{"name":"app","e":1}]`,
			[]Op{{Op: "add", Path: "/x/0", Value: map[string]any{"name": "side"}}, {Op: "add", Path: "/x/1/e", Value: json.Number("1")}}},
		{"element replaced", `[{"n":"a","p":"/old"}]`, `[{"n":"a","p":"/new"}]`, []Op{{Op: "add", Path: "/x/0/p", Value: "/new"}}},
		{"scalar element replaced", `[1,2]`, `[1,3]`, []Op{{Op: "replace", Path: "/x/1", Value: json.Number("3")}}},
		{"inserted both sides", `[{"name":"a"}]`, `[{"name":"s"},{"name":"a"},{"name":"i"}]`, []Op{{Op: "add", Path: "/x/0", Value: map[string]any{"name": "s"}}, {Op: "add", Path: "/x/-", Value: map[string]any{"name": "i"}}}},
		{"shorter array set whole", `[1,2]`, `[1]`, []Op{{Op: "add", Path: "/x", Value: []any{json.Number("1")}}}},
		{"escaped names", `{}`, `{"a/b~c":1}`, []Op{{Op: "add", Path: "/x/a~1b~0c", Value: json.Number("1")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff("/x", parse(t, tc.a), parse(t, tc.b))
			require.Equal(t, tc.want, got)
			require.Equal(t, parse(t, tc.b), apply(t, tc.a, got))
		})
	}
}

func TestValues(t *testing.T) {
	type c struct {
		Name string   `json:"name"`
		Env  []string `json:"env,omitempty"`
	}
	ops, err := Values("/spec/containers", []c{{Name: "a"}}, []c{{Name: "s"}, {Name: "a", Env: []string{"X"}}})
	require.NoError(t, err)
	require.Equal(t, []Op{
		{Op: "add", Path: "/spec/containers/0", Value: map[string]any{"name": "s"}},
		{Op: "add", Path: "/spec/containers/1/env", Value: []any{"X"}},
	}, ops)
	_, err = Values("", func() {}, nil)
	require.Error(t, err)
}

// FuzzDiff: for any two JSON values the patch applies and yields the second.
func FuzzDiff(f *testing.F) {
	for _, s := range [][2]string{
		{`{"a":[1,2]}`, `{"a":[0,1,2,3]}`}, {`[]`, `{}`}, {`null`, `[1]`}, {`{"~":{"/":1}}`, `{"~":{"/":2,"":3}}`},
		{`[{"a":1},{"b":2}]`, `[{"c":3},{"a":1},{"b":2,"d":4}]`}, {`"s"`, `1.5e3`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !json.Valid([]byte(a)) || !json.Valid([]byte(b)) {
			return
		}
		ops := Diff("/x", parse(t, a), parse(t, b))
		got, err := json.Marshal(apply(t, a, ops))
		require.NoError(t, err)
		want, err := json.Marshal(parse(t, b))
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(got))
	})
}
