package report

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// tierManifest: p1's TestA is slow (rows a, b), its TestC quick; p2 holds
// only a slow row; p3 has no rows.
func tierManifest(t *testing.T, extra string) *Manifest {
	t.Helper()
	m, err := ParseManifest([]byte(`suites:
- package: ` + p3 + `
  rows: []
- package: ` + p1 + `
  rows:
  - {id: s/m/a, test: TestA/a, tier: slow}
  - {id: s/m/b, test: TestA/b, tier: slow}
  - {id: s/m/c, test: TestC}
- package: ` + p2 + `
  rows:
  - {id: s/m/d, test: TestD/x, tier: slow}
` + extra))
	require.NoError(t, err)
	return m
}

func TestManifestQuick(t *testing.T) {
	plan, err := tierManifest(t, "").Quick()
	require.NoError(t, err)
	require.Equal(t, QuickPlan{Drop: []string{p2}, Skip: map[string]string{p1: "^(TestA)$"}}, plan,
		"a suite of slow rows is not run; a slow top-level test is skipped; a suite without rows runs")

	all, err := testManifest(t).Quick()
	require.NoError(t, err)
	require.Equal(t, QuickPlan{Skip: map[string]string{}}, all, "no slow rows: the quick tier is everything")
}

func TestManifestQuickRefusesMixedTests(t *testing.T) {
	m, err := ParseManifest([]byte(`suites:
- package: ` + p1 + `
  rows:
  - {id: s/m/a, test: TestA/a, tier: slow}
  - {id: s/m/b, test: TestA/b}
`))
	require.NoError(t, err)
	_, err = m.Quick()
	require.ErrorContains(t, err, p1+" TestA")
}

func TestParseManifestTier(t *testing.T) {
	_, err := ParseManifest([]byte("suites:\n- package: p\n  rows:\n  - {id: s/m/a, test: TestA, tier: sloow}\n"))
	require.ErrorContains(t, err, `tier "sloow"`)
}

func TestManifestCheckQuick(t *testing.T) {
	// A quick run: p2 dropped, p1's TestA skipped (no events at all).
	quick := func() *Result {
		res := run()
		dropTests(res, p2, "")
		dropTests(res, p1, "TestA")
		dropRow(res, "a")
		dropRow(res, "b")
		dropRow(res, "d")
		return res
	}
	tests := []struct {
		name    string
		edit    func(*Result)
		scope   Scope
		want    []string
		checked int
	}{
		{name: "quick run matches", scope: Scope{Packages: []string{p1, p3}, Full: true, Quick: true}, checked: 1},
		{name: "without Quick the slow rows are missing", scope: Scope{Packages: []string{p1, p3}, Full: true},
			want: []string{"listed suite did not run: " + p2, "row missing: s/m/a", "row missing: s/m/b"}, checked: 3},
		{name: "a quick suite must still run", edit: func(r *Result) { dropTests(r, p3, "") },
			scope: Scope{Packages: []string{p1}, Full: true, Quick: true}, want: []string{"listed suite did not run: " + p3}, checked: 1},
		{name: "a row whose tier changed", edit: func(r *Result) { r.Rows[0].Tier = TierSlow },
			scope: Scope{Packages: []string{p1, p3}, Full: true, Quick: true}, want: []string{`row s/m/c is tier "slow", the manifest says "quick"`}, checked: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := quick()
			if tc.edit != nil {
				tc.edit(res)
			}
			cov, err := tierManifest(t, "").Check(res, tc.scope)
			require.Equal(t, Coverage{Checked: tc.checked, Total: 4}, cov)
			if len(tc.want) == 0 {
				require.NoError(t, err)
				return
			}
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.Equal(t, len(tc.want), strings.Count(err.Error(), "\n  "), "exactly the problems wanted: %v", err)
		})
	}
}

func TestManifestFromKeepsTier(t *testing.T) {
	res := run()
	res.Rows[0].Tier = TierSlow
	m, err := ManifestFrom(res)
	require.NoError(t, err)
	i := slices.IndexFunc(m.Suites, func(s ManifestSuite) bool { return s.Package == p1 })
	require.Equal(t, TierSlow, m.Suites[i].Rows[0].Tier, "%+v", m.Suites)
	var b strings.Builder
	require.NoError(t, m.Write(&b))
	require.Contains(t, b.String(), "tier: slow")
	require.Equal(t, 1, strings.Count(b.String(), "tier:"), "a quick row writes no tier")
}

func TestReadRowTier(t *testing.T) {
	for _, tc := range []struct {
		tier string
		bad  int
	}{{`"slow"`, 0}, {`""`, 0}, {`"fast"`, 1}} {
		stream := `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    x_test.go:1: IDLAB-ROW {\"suite\":\"s\",\"scenario\":\"a\",\"expected\":\"allow\",\"observed\":\"allow\",\"tier\":` + strings.ReplaceAll(tc.tier, `"`, `\"`) + `}\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
`
		res, err := Read(strings.NewReader(stream), nil)
		require.NoError(t, err)
		require.Equal(t, tc.bad, res.Tests[0].BadRows, "tier %s", tc.tier)
	}
}

func TestShard(t *testing.T) {
	pkgs := []string{"e", "a", "d", "c", "b"}
	var union []string
	for k := 1; k <= 2; k++ {
		s, err := Shard(pkgs, k, 2)
		require.NoError(t, err)
		union = append(union, s...)
	}
	require.ElementsMatch(t, pkgs, union, "two shards cover every suite once")
	one, err := Shard(pkgs, 1, 2)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "c", "e"}, one, "by sorted position, whatever the input order")
	for _, bad := range [][2]int{{0, 2}, {3, 2}, {1, 0}} {
		_, err := Shard(pkgs, bad[0], bad[1])
		require.Error(t, err, "%v", bad)
	}
}
