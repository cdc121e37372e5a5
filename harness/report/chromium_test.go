package report

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chromium returns Debian's headless Chromium (hack/setup-test-tools.sh
// chromium installs it; make e2e does, and make test with CI=true). When it
// is missing the test skips, which the summary of make test lists and CI
// counts as a failure, unless IDLAB_MATRIX_HTML asks for a run's page to be
// checked: then it fails.
func chromium(t *testing.T) string {
	t.Helper()
	const bin = "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("IDLAB_MATRIX_HTML") != "" {
			t.Fatalf("chromium is needed to check %s: %v", os.Getenv("IDLAB_MATRIX_HTML"), err)
		}
		t.Skip("chromium not installed (hack/setup-test-tools.sh chromium)")
	}
	return bin
}

// renderedDOM is the page as headless Chromium parsed it: what a person
// opening matrix.html sees, not what the template wrote.
func renderedDOM(t *testing.T, page string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium(t), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+page).Output()
	require.NoError(t, err)
	return string(out)
}

var (
	rowRE     = regexp.MustCompile(`<tr class="(ok|bad)">`)
	summaryRE = regexp.MustCompile(`<p id="summary">(\d+) rows: (\d+) as expected, (\d+) not;`)
)

// TestMatrixInChromium renders a matrix with one row as expected and one
// not, and checks what the browser parsed: both rows, their classes, the
// summary, and an escaped reason that stayed text. With IDLAB_MATRIX_HTML
// set (make e2e) it checks that run's page instead: every row as expected
// and as many rows as the summary says.
func TestMatrixInChromium(t *testing.T) {
	if page := os.Getenv("IDLAB_MATRIX_HTML"); page != "" {
		dom := renderedDOM(t, page)
		m := summaryRE.FindStringSubmatch(dom)
		require.NotNil(t, m, "summary missing from the rendered page")
		rows := rowRE.FindAllStringSubmatch(dom, -1)
		require.Equal(t, m[1], strconv.Itoa(len(rows)), "rows in the table vs the summary")
		require.NotEmpty(t, rows)
		for _, r := range rows {
			require.Equal(t, "ok", r[1], "a row is not as expected")
		}
		require.Equal(t, "0", m[3])
		return
	}
	res := &Result{Rows: []Row{
		{Suite: "irsa", Scenario: "own", Mechanism: "IRSA", Expected: "allow", Observed: "allow", Passed: true, AsExpected: true},
		{Suite: "irsa", Scenario: "other", Mechanism: "IRSA", Expected: "AccessDenied", Observed: "allow", Reason: `<script>document.title="pwned"</script>`},
	}}
	page := filepath.Join(t.TempDir(), "matrix.html")
	f, err := os.Create(page)
	require.NoError(t, err)
	require.NoError(t, res.HTML(f, "Conformance", time.Minute))
	require.NoError(t, f.Close())

	dom := renderedDOM(t, page)
	require.Equal(t, [][]string{{`<tr class="ok">`, "ok"}, {`<tr class="bad">`, "bad"}}, rowRE.FindAllStringSubmatch(dom, -1))
	require.Equal(t, []string{`<p id="summary">2 rows: 1 as expected, 1 not;`, "2", "1", "1"}, summaryRE.FindStringSubmatch(dom))
	require.Contains(t, dom, "NOT as expected")
	require.Contains(t, dom, "<title>Conformance</title>", "the reason's script did not run")
	require.Contains(t, dom, `&lt;script&gt;`, "the reason is text, not markup")
}
