package report

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVerdict(t *testing.T) {
	tests := []struct {
		name    string
		row     Row
		action  string
		want    bool
		wantWhy string
	}{
		{name: "allow matches", row: Row{Expected: "allow", Observed: "allow"}, action: "pass", want: true},
		{name: "code matches", row: Row{Expected: "AccessDenied", Observed: "AccessDenied"}, action: "pass", want: true},
		// The case: the test passed, but the row says a denial was an allow.
		{name: "passing test, observed differs", row: Row{Expected: "AccessDenied", Observed: "allow"}, action: "pass",
			wantWhy: "observed differs from expected"},
		{name: "exact is exact: case", row: Row{Expected: "accessdenied", Observed: "AccessDenied"}, action: "pass",
			wantWhy: "observed differs from expected"},
		{name: "exact is exact: space", row: Row{Expected: "allow", Observed: "allow "}, action: "pass",
			wantWhy: "observed differs from expected"},
		{name: "exact is exact: prefix is not enough", row: Row{Expected: "allow", Observed: "allow: arn"}, action: "pass",
			wantWhy: "observed differs from expected"},
		{name: "empty observed", row: Row{Expected: "allow"}, action: "pass", wantWhy: "observed differs from expected"},
		{name: "no expected outcome", row: Row{Observed: "allow"}, action: "pass", wantWhy: "the row states no expected outcome"},
		{name: "no expected outcome, even with prefix", row: Row{Observed: "allow", Normalize: "prefix"}, action: "pass",
			wantWhy: "the row states no expected outcome"},
		{name: "prefix matches", row: Row{Expected: "allow: arn:aws:sts::1:assumed-role/r/", Observed: "allow: arn:aws:sts::1:assumed-role/r/123", Normalize: "prefix"},
			action: "pass", want: true},
		{name: "prefix equal", row: Row{Expected: "allow", Observed: "allow", Normalize: "prefix"}, action: "pass", want: true},
		{name: "prefix differs", row: Row{Expected: "allow: arn:aws:sts::1:assumed-role/r/", Observed: "allow: arn:aws:sts::1:assumed-role/node/1", Normalize: "prefix"},
			action: "pass", wantWhy: "observed differs from expected (prefix)"},
		{name: "prefix is not contains", row: Row{Expected: "Denied", Observed: "AccessDenied", Normalize: "prefix"}, action: "pass",
			wantWhy: "observed differs from expected (prefix)"},
		{name: "unknown normalisation", row: Row{Expected: "allow", Observed: "allow", Normalize: "anything"}, action: "pass",
			wantWhy: `unknown normalisation "anything"`},
		{name: "test failed", row: Row{Expected: "allow", Observed: "allow"}, action: "fail", wantWhy: "its test failed"},
		{name: "test skipped", row: Row{Expected: "allow", Observed: "allow"}, action: "skip", wantWhy: "its test was skipped"},
		{name: "test never ended", row: Row{Expected: "allow", Observed: "allow"}, action: "", wantWhy: "its test did not finish"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := tc.row.verdict(tc.action)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.wantWhy, why)
		})
	}
}

func TestNormalizationsStaySmall(t *testing.T) {
	// Every entry is a way to be "as expected" without saying the same
	// thing: adding one is a decision, not a convenience.
	require.Len(t, Normalizations, 2)
	require.Contains(t, Normalizations, "")
	require.Contains(t, Normalizations, "prefix")
}

func TestRowID(t *testing.T) {
	tests := []struct {
		row  Row
		want string
	}{
		{Row{Suite: "irsa isolation", Mechanism: "IRSA (eks)", Scenario: "own-role"}, "irsa-isolation/irsa-eks/own-role"},
		{Row{Suite: "kube2iam", Mechanism: "kube2iam-style proxy", Scenario: "metadata proxy not ready at pod start (jtblin/kube2iam#170)"},
			"kube2iam/kube2iam-style-proxy/metadata-proxy-not-ready-at-pod-start-jtblin-kube2iam-170"},
		{Row{Suite: "rotation", Mechanism: "IRSA webhook (eks, boto3)", Scenario: "kubelet rotates the 600 s token under a long-running Python client"},
			"rotation/irsa-webhook-eks-boto3/kubelet-rotates-the-600-s-token-under-a-long-running-python-client"},
		{Row{Suite: "  A__B  ", Mechanism: "--", Scenario: "Ünïcode ok"}, "a-b//n-code-ok"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tc.row.ID())
	}
}

func TestCheckRows(t *testing.T) {
	ok := Row{Suite: "s", Mechanism: "m", Scenario: "a", Expected: "allow", Observed: "allow", AsExpected: true, Test: "p/TestA"}
	tests := []struct {
		name string
		rows []Row
		want []error
		text []string
	}{
		{name: "all as expected", rows: []Row{ok, {Suite: "s", Mechanism: "m", Scenario: "b", AsExpected: true}}},
		{name: "no rows", want: []error{ErrNoRows}},
		{name: "a row not as expected", rows: []Row{ok, {Suite: "s", Mechanism: "m", Scenario: "b", Expected: "AccessDenied", Observed: "allow",
			Why: "observed differs from expected", Test: "p/TestB"}},
			want: []error{ErrNotAsExpected}, text: []string{`s/m/b: observed differs from expected (expected "AccessDenied", observed "allow"; p/TestB)`, "1 of 2"}},
		{name: "duplicate id", rows: []Row{ok, func() Row { r := ok; r.Test = "p/TestOther"; return r }()},
			want: []error{ErrDuplicateRows}, text: []string{"s/m/a (p/TestA, p/TestOther)"}},
		{name: "both", rows: []Row{ok, {Suite: "s", Mechanism: "m", Scenario: "a", Why: "its test failed", Test: "p/TestC"}},
			want: []error{ErrDuplicateRows, ErrNotAsExpected}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := (&Result{Rows: tc.rows}).CheckRows()
			if len(tc.want) == 0 {
				require.NoError(t, err)
				return
			}
			for _, w := range tc.want {
				require.ErrorIs(t, err, w)
			}
			for _, s := range tc.text {
				require.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestReadComparesObservedWithExpected(t *testing.T) {
	const pkg = "example.com/s/x"
	res, err := Read(strings.NewReader(stream(t,
		event{Action: "output", Package: pkg, Test: "TestX/lie", Output: row(t, Row{Suite: "x", Scenario: "lie", Mechanism: "m", Expected: "AccessDenied", Observed: "allow"})},
		event{Action: "pass", Package: pkg, Test: "TestX/lie"},
		event{Action: "output", Package: pkg, Test: "TestX/arn", Output: row(t, Row{Suite: "x", Scenario: "arn", Mechanism: "m",
			Expected: "allow: arn:aws:sts::1:assumed-role/r/", Observed: "allow: arn:aws:sts::1:assumed-role/r/42", Normalize: "prefix"})},
		event{Action: "pass", Package: pkg, Test: "TestX/arn"},
		// A row that claims its own verdict is read, not believed.
		event{Action: "output", Package: pkg, Test: "TestX/claims", Output: row(t, Row{Suite: "x", Scenario: "claims", Mechanism: "m",
			Expected: "allow", Observed: "AccessDenied", Passed: true, AsExpected: true})},
		event{Action: "pass", Package: pkg, Test: "TestX/claims"},
		event{Action: "pass", Package: pkg, Test: "TestX"},
	)), nil)
	require.NoError(t, err)
	require.False(t, res.Failed(), "every test passed")
	byScenario := map[string]Row{}
	for _, r := range res.Rows {
		byScenario[r.Scenario] = r
	}
	require.False(t, byScenario["lie"].AsExpected)
	require.True(t, byScenario["lie"].Passed)
	require.True(t, byScenario["arn"].AsExpected)
	require.False(t, byScenario["claims"].AsExpected)
	err = res.CheckRows()
	require.ErrorIs(t, err, ErrNotAsExpected)
	require.Contains(t, err.Error(), "x/m/lie")
	require.Contains(t, err.Error(), "x/m/claims")
	require.NotContains(t, err.Error(), "x/m/arn")

	var md bytes.Buffer
	require.NoError(t, res.Markdown(&md, "t", 0))
	require.Contains(t, md.String(), "| x | lie | m | AccessDenied | allow | **NOT as expected**: observed differs from expected |")
	require.Contains(t, md.String(), "3 rows: 1 as expected, 2 not")
}

func TestCheckSkips(t *testing.T) {
	res, err := Read(strings.NewReader(stream(t,
		event{Action: "output", Package: "p", Test: "TestTool", Output: "=== RUN   TestTool\n"},
		event{Action: "output", Package: "p", Test: "TestTool", Output: "    tool_test.go:36: awscli not installed at /usr/bin/aws\n"},
		event{Action: "output", Package: "p", Test: "TestTool", Output: "--- SKIP: TestTool (0.00s)\n"},
		event{Action: "skip", Package: "p", Test: "TestTool"},
		event{Action: "pass", Package: "p", Test: "TestOK"},
	)), nil)
	require.NoError(t, err)
	require.Len(t, res.Skipped(), 1)
	require.Equal(t, "tool_test.go:36: awscli not installed at /usr/bin/aws", SkipReason(res.Skipped()[0]))

	var out bytes.Buffer
	require.NoError(t, res.CheckSkips(&out, false), "outside CI a skip is loud, not a failure")
	require.Contains(t, out.String(), "!!! 1 SKIPPED")
	require.Contains(t, out.String(), "p TestTool: tool_test.go:36: awscli not installed")

	out.Reset()
	err = res.CheckSkips(&out, true)
	require.ErrorIs(t, err, ErrSkipped)
	require.Contains(t, err.Error(), "p TestTool")
	require.Contains(t, out.String(), "CI=true: a skip is a failure")

	out.Reset()
	res.Tests = res.Tests[1:]
	require.NoError(t, res.CheckSkips(&out, true))
	require.Empty(t, out.String(), "nothing to say without skips")
	require.Equal(t, "(no reason given)", SkipReason(&Test{Output: []string{"--- SKIP: X (0.00s)\n"}}))
}

func TestBriefEcho(t *testing.T) {
	in := stream(t,
		event{Action: "output", Package: "p", Test: "TestOK", Output: "=== RUN   TestOK\n"},
		event{Action: "output", Package: "p", Test: "TestOK", Output: "    ok_test.go:1: chatter\n"},
		event{Action: "pass", Package: "p", Test: "TestOK"},
		event{Action: "output", Package: "p", Test: "TestBad", Output: "=== RUN   TestBad\n"},
		event{Action: "output", Package: "p", Test: "TestBad", Output: "    bad_test.go:2: the reason\n"},
		event{Action: "output", Package: "p", Test: "TestBad", Output: "--- FAIL: TestBad (0.00s)\n"},
		event{Action: "fail", Package: "p", Test: "TestBad"},
		event{Action: "output", Package: "p", Test: "TestSkip", Output: "    s_test.go:3: no tool\n"},
		event{Action: "skip", Package: "p", Test: "TestSkip"},
		event{Action: "output", Package: "p", Output: "PASS\n"},
		event{Action: "output", Package: "p", Output: "FAIL\tp\t0.1s\n"},
		event{Action: "output", Package: "q", Output: "ok  \tq\t0.2s\n"},
	) + "# not json\n"
	var out bytes.Buffer
	_, err := Read(strings.NewReader(in), Brief(&out))
	require.NoError(t, err)
	require.Equal(t, "    bad_test.go:2: the reason\n--- FAIL: TestBad (0.00s)\nFAIL\tp\t0.1s\nok  \tq\t0.2s\n# not json\n", out.String())
}

// TestBriefEchoTimeout: a test binary that times out prints its panic as
// the output of the test that ran last, which never ends; brief shows it
// when the package fails, and what a passing package's tests held is
// dropped. (The events as go 1.25's test2json writes them.)
func TestBriefEchoTimeout(t *testing.T) {
	in := stream(t,
		event{Action: "output", Package: "p", Test: "TestSlowA", Output: "=== CONT  TestSlowA\n"},
		event{Action: "output", Package: "p", Test: "TestSlowA", Output: "    a_test.go:4: slow a starts\n"},
		event{Action: "output", Package: "q", Test: "TestQ", Output: "    q_test.go:1: chatter\n"},
		event{Action: "output", Package: "p", Test: "TestSlowB", Output: "=== CONT  TestSlowB\n"},
		event{Action: "output", Package: "p", Test: "TestSlowB", Output: "panic: test timed out after 4m0s\n"},
		event{Action: "output", Package: "p", Test: "TestSlowB", Output: "\trunning tests:\n\t\tTestSlowA (4m0s)\n"},
		event{Action: "output", Package: "p", Output: "FAIL\tp\t240.5s\n"},
		event{Action: "fail", Package: "p"},
		event{Action: "output", Package: "q", Output: "ok  \tq\t0.2s\n"},
		event{Action: "pass", Package: "q"},
	)
	var out bytes.Buffer
	res, err := Read(strings.NewReader(in), Brief(&out))
	require.NoError(t, err)
	require.Equal(t, "FAIL\tp\t240.5s\n"+
		"--- TestSlowA: still running when p failed:\n    a_test.go:4: slow a starts\n"+
		"--- TestSlowB: still running when p failed:\npanic: test timed out after 4m0s\n\trunning tests:\n\t\tTestSlowA (4m0s)\n"+
		"ok  \tq\t0.2s\n", out.String())
	require.True(t, slices.ContainsFunc(res.Tests, func(t *Test) bool { return t.Package == "p" && t.Action == "fail" }), "the package counts as failed")
}
