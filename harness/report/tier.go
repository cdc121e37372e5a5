package report

import (
	"fmt"
	"sort"
	"strings"
)

// QuickPlan is how a run leaves the slow tier out: suites whose rows are all
// slow are not run, and in the others the top-level tests that log slow
// rows are skipped (go test -skip).
type QuickPlan struct {
	// Drop lists the suites (packages) not to run.
	Drop []string
	// Skip maps a suite to its -skip pattern.
	Skip map[string]string
}

// tierName names a tier for messages.
func tierName(t string) string {
	if t == TierQuick {
		return "quick"
	}
	return t
}

// onlySlow reports whether the suite has rows and all of them are slow.
func (s ManifestSuite) onlySlow() bool {
	for _, r := range s.Rows {
		if r.Tier != TierSlow {
			return false
		}
	}
	return len(s.Rows) > 0
}

// Quick plans a run of the quick tier. A row's tier is its top-level
// test's: go test can only leave out whole tests, so a top-level test that
// logs rows of both tiers is an error (split it, or mark every row slow).
func (m *Manifest) Quick() (QuickPlan, error) {
	plan := QuickPlan{Skip: map[string]string{}}
	var mixed []string
	for _, s := range m.Suites {
		if s.onlySlow() {
			plan.Drop = append(plan.Drop, s.Package)
			continue
		}
		tiers := map[string]map[string]bool{} // top-level test -> tiers of its rows
		for _, r := range s.Rows {
			top, _, _ := strings.Cut(r.Test, "/")
			if tiers[top] == nil {
				tiers[top] = map[string]bool{}
			}
			tiers[top][r.Tier] = true
		}
		var slow []string
		for top, ts := range tiers {
			switch {
			case ts[TierSlow] && ts[TierQuick]:
				mixed = append(mixed, s.Package+" "+top)
			case ts[TierSlow]:
				slow = append(slow, top)
			}
		}
		if len(slow) > 0 {
			sort.Strings(slow)
			plan.Skip[s.Package] = "^(" + strings.Join(slow, "|") + ")$"
		}
	}
	if len(mixed) > 0 {
		sort.Strings(mixed)
		return QuickPlan{}, fmt.Errorf("manifest: top-level tests with rows of both tiers (go test cannot run only part of one): %s", strings.Join(mixed, ", "))
	}
	return plan, nil
}

// Shard returns the suites of shard k of n (1 <= k <= n): every n-th of the
// sorted suites, starting at the k-th, so that the shards of one n are
// disjoint, cover every suite, and agree between machines that list the
// same suites.
func Shard(pkgs []string, k, n int) ([]string, error) {
	if n < 1 || k < 1 || k > n {
		return nil, fmt.Errorf("shard %d/%d: want K/N with 1 <= K <= N", k, n)
	}
	sorted := append([]string(nil), pkgs...)
	sort.Strings(sorted)
	var out []string
	for i, p := range sorted {
		if i%n == k-1 {
			out = append(out, p)
		}
	}
	return out, nil
}
