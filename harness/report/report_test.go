package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stream builds a `go test -json` stream as cmd/test2json writes it.
func stream(t *testing.T, events ...event) string {
	t.Helper()
	var b strings.Builder
	for _, e := range events {
		raw, err := json.Marshal(e)
		require.NoError(t, err)
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.String()
}

func row(t *testing.T, r Row) string {
	t.Helper()
	raw, err := json.Marshal(r)
	require.NoError(t, err)
	return "    x_test.go:9: " + RowPrefix + string(raw) + "\n"
}

func TestReadAndWrite(t *testing.T) {
	const pkg = "github.com/idlab/idlab/scenarios/irsa"
	in := stream(t,
		event{Action: "run", Package: pkg, Test: "TestIRSA"},
		event{Action: "output", Package: pkg, Test: "TestIRSA/own", Output: row(t, Row{Suite: "irsa", Scenario: "own", Mechanism: "IRSA", Expected: "allow", Observed: "allow"})},
		event{Action: "pass", Package: pkg, Test: "TestIRSA/own", Elapsed: 3.1},
		event{Action: "output", Package: pkg, Test: "TestIRSA/other", Output: row(t, Row{Suite: "irsa", Scenario: "other", Mechanism: "IRSA", Expected: "AccessDenied", Observed: "allow", Reason: `a <b>|c</b> "quoted"`})},
		event{Action: "output", Package: pkg, Test: "TestIRSA/other", Output: "    x_test.go:12: must be denied\n"},
		event{Action: "fail", Package: pkg, Test: "TestIRSA/other", Elapsed: 2},
		event{Action: "fail", Package: pkg, Test: "TestIRSA", Elapsed: 5.1},
		event{Action: "skip", Package: pkg, Test: "TestSkipped"},
	) + "# a build error line\n"
	var echo bytes.Buffer
	res, err := Read(strings.NewReader(in), Plain(&echo))
	require.NoError(t, err)
	require.Contains(t, echo.String(), "must be denied")
	require.Contains(t, echo.String(), "# a build error line")
	require.True(t, res.Failed())
	require.Len(t, res.Rows, 2)
	require.True(t, res.Rows[0].Passed, "own passed")
	require.True(t, res.Rows[0].AsExpected)
	require.False(t, res.Rows[1].Passed, "other failed, so its row is not as expected")
	require.False(t, res.Rows[1].AsExpected)
	require.Equal(t, "its test failed", res.Rows[1].Why)
	require.Equal(t, pkg+"/TestIRSA/other", res.Rows[1].Test)

	var junit bytes.Buffer
	require.NoError(t, res.JUnit(&junit))
	var parsed struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Skipped  int    `xml:"skipped,attr"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(junit.Bytes(), &parsed))
	require.Equal(t, pkg, parsed.Suites[0].Name)
	require.Equal(t, 4, parsed.Suites[0].Tests)
	require.Equal(t, 2, parsed.Suites[0].Failures)
	require.Equal(t, 1, parsed.Suites[0].Skipped)
	require.Equal(t, "(build)", parsed.Suites[1].Name, "non-JSON lines become a failed build test")
	require.Equal(t, 1, parsed.Suites[1].Failures)
	require.Contains(t, junit.String(), "must be denied")

	var md bytes.Buffer
	require.NoError(t, res.Markdown(&md, "Conformance", 90*time.Second))
	require.Contains(t, md.String(), "2 rows: 1 as expected, 1 not; suites wall time 1m30s.")
	require.Contains(t, md.String(), `| irsa | other | IRSA | AccessDenied | allow | **NOT as expected**: its test failed | a <b>\|c</b> "quoted" |`)

	var page bytes.Buffer
	require.NoError(t, res.HTML(&page, "Conformance", 90*time.Second))
	require.Contains(t, page.String(), `<tr class="bad">`)
	require.Contains(t, page.String(), "a &lt;b&gt;|c&lt;/b&gt; &#34;quoted&#34;", "reasons are escaped")
	require.NotContains(t, page.String(), "<b>|c</b>")

	dir := t.TempDir()
	require.NoError(t, res.WriteFiles(dir, "Conformance", time.Minute))
}

func TestReadPackageFailures(t *testing.T) {
	const built, broken, timedOut = "example.com/s/ok", "example.com/s/broken", "example.com/s/slow"
	in := stream(t,
		event{Action: "pass", Package: built, Test: "TestOK"},
		event{Action: "pass", Package: built},
		event{Action: "build-output", ImportPath: broken + " [" + broken + ".test]", Output: "b_test.go:5:15: undefined: testing\n"},
		event{Action: "build-fail", ImportPath: broken + " [" + broken + ".test]"},
		event{Action: "output", Package: broken, Output: "FAIL\t" + broken + " [build failed]\n"},
		event{Action: "fail", Package: broken},
		// A timeout panics outside the test: the test has no result of its own.
		event{Action: "run", Package: timedOut, Test: "TestWait"},
		event{Action: "output", Package: timedOut, Output: "panic: test timed out after 1m0s\n"},
		event{Action: "fail", Package: timedOut, Elapsed: 60},
	)
	var echo bytes.Buffer
	res, err := Read(strings.NewReader(in), Plain(&echo))
	require.NoError(t, err)
	require.True(t, res.Failed())
	require.Contains(t, echo.String(), "undefined: testing")
	byPkg := map[string]*Test{}
	for _, tc := range res.Tests {
		if tc.Name == PackageTest {
			byPkg[tc.Package] = tc
		}
	}
	require.Len(t, byPkg, 2, "only the failed packages get a package test")
	require.Equal(t, "fail", byPkg[broken].Action)
	require.Contains(t, strings.Join(byPkg[broken].Output, ""), "undefined: testing")
	require.Contains(t, strings.Join(byPkg[timedOut].Output, ""), "test timed out")

	// A package whose failure is already a failed test gets no extra entry.
	res, err = Read(strings.NewReader(stream(t,
		event{Action: "fail", Package: built, Test: "TestX"},
		event{Action: "fail", Package: built},
	)), nil)
	require.NoError(t, err)
	require.Len(t, res.Tests, 1)
}

func TestReadJoinsRowsTest2jsonCut(t *testing.T) {
	const pkg, test = "example.com/s/azure", "TestAzure/subject"
	line := row(t, Row{Suite: "azure", Scenario: "subject", Expected: "AADSTS700213", Observed: "AADSTS700213",
		Reason: strings.Repeat("a long SDK error ", 200)})
	var events []event
	for rest := line; rest != ""; {
		n := min(len(rest), 1000) // test2json's cut
		events = append(events, event{Action: "output", Package: pkg, Test: test, Output: rest[:n]})
		rest = rest[n:]
	}
	require.Greater(t, len(events), 2)
	events = append(events, event{Action: "pass", Package: pkg, Test: test})
	res, err := Read(strings.NewReader(stream(t, events...)), nil)
	require.NoError(t, err)
	require.Len(t, res.Rows, 1, "a row cut into several events is still one row")
	require.True(t, res.Rows[0].AsExpected)
	require.Equal(t, "AADSTS700213", res.Rows[0].Observed)
}

func TestReadUnreadableRowFailsItsTest(t *testing.T) {
	const pkg, test = "example.com/s/x", "TestX/row"
	res, err := Read(strings.NewReader(stream(t,
		event{Action: "output", Package: pkg, Test: test, Output: "    x_test.go:9: " + RowPrefix + "{\"suite\": broken\n"},
		event{Action: "pass", Package: pkg, Test: test},
	)), nil)
	require.NoError(t, err)
	require.Empty(t, res.Rows)
	require.True(t, res.Failed(), "a lost row must fail the run")
	require.Equal(t, 1, res.Tests[0].BadRows)
	require.Contains(t, strings.Join(res.Tests[0].Output, ""), "unreadable matrix row")
}

// FuzzRead: any stream is read without error, and no row is as expected
// unless its test passed and it states what it expected and observed it.
func FuzzRead(f *testing.F) {
	f.Add(`{"Action":"output","Package":"p","Test":"TestX","Output":"    x.go:1: IDLAB-ROW {\"suite\":\"s\",\"expected\":\"allow\",\"observed\":\"allow\"}\n"}` + "\n" +
		`{"Action":"pass","Package":"p","Test":"TestX"}` + "\n")
	f.Add(`{"Action":"output","Package":"p","Test":"TestX","Output":"IDLAB-ROW {\"expected\":\"a\",\"observed\":\"ab\",\"normalize\":\"prefix\",\"as_expected\":true}\n"}` + "\n" +
		`{"Action":"fail","Package":"p","Test":"TestX"}` + "\n" + "not json\n")
	f.Add(`{"Action":"build-output","ImportPath":"p [p.test]","Output":"x"}` + "\n" + `{"Action":"fail","Package":"p"}`)
	f.Fuzz(func(t *testing.T, in string) {
		res, err := Read(strings.NewReader(in), Brief(io.Discard))
		if err != nil {
			return // a line over the scanner's limit
		}
		for _, r := range res.Rows {
			if r.AsExpected {
				require.True(t, r.Passed, "%+v", r)
				require.NotEmpty(t, r.Expected)
				require.True(t, Normalizations[r.Normalize](r.Expected, r.Observed), "%+v", r)
			}
		}
	})
}

// TestClass: each suite and mechanism the lab has lands in its column.
func TestClass(t *testing.T) {
	for _, tc := range []struct {
		row  Row
		want string
	}{
		{Row{Suite: "irsa isolation", Mechanism: "IRSA (eks)"}, "isolation"},
		{Row{Suite: "azure", Mechanism: "Azure Workload Identity"}, "isolation"},
		{Row{Suite: "token rotation", Mechanism: "IRSA webhook (eks, boto3)"}, "rotation"},
		{Row{Suite: "cross-account", Mechanism: "IRSA + sts:AssumeRole (eks)"}, "cross-account"},
		{Row{Suite: "gke", Mechanism: "GKE to AWS (Google ID token as web identity)"}, "cross-cloud"},
		{Row{Suite: "gke", Mechanism: "gtoken webhook (GKE to AWS)"}, "cross-cloud"},
		{Row{Suite: "gke", Mechanism: "GKE Workload Identity"}, "isolation"},
		{Row{Suite: "irsa bugs", Mechanism: "IRSA webhook (eks)"}, "bugs"},
		{Row{Suite: "kube2iam", Mechanism: "kube2iam-style proxy", Test: "github.com/idlab/idlab/scenarios/kube2iam/TestKube2iam/identity-bugs/imdsv2-hop-limit-1-on-the-bridge"}, "bugs"},
		{Row{Suite: "kube2iam", Mechanism: "kube2iam-style proxy", Test: "github.com/idlab/idlab/scenarios/kube2iam/TestKube2iam/isolation/own-role"}, "isolation"},
		{Row{Suite: "trustboundary", Mechanism: "admin API on the cloud plane"}, "trust boundary"},
	} {
		require.Equal(t, tc.want, Class(tc.row), "%+v", tc.row)
		require.Contains(t, Classes, Class(tc.row))
	}
}
