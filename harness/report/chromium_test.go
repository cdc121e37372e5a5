package report

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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

// renderedDOM is the page as headless Chromium parsed it and its script
// left it: what a person opening matrix.html sees, not what the template
// wrote. fragment is the URL's (#q=... filters the rows).
func renderedDOM(t *testing.T, page, fragment string) string {
	t.Helper()
	return string(headless(t, "--dump-dom", "file://"+page+fragment))
}

// screenshot saves the page as headless Chromium draws it to png.
func screenshot(t *testing.T, page, png string) {
	t.Helper()
	headless(t, "--window-size=1400,1800", "--screenshot="+png, "file://"+page)
	st, err := os.Stat(png)
	require.NoError(t, err)
	require.Positive(t, st.Size())
}

func headless(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium(t), append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}, args...)...).Output()
	require.NoError(t, err)
	return out
}

var (
	rowRE     = regexp.MustCompile(`<tr class="(ok|bad)"( style="display: none;")?>`)
	summaryRE = regexp.MustCompile(`<p id="summary">(\d+) rows: (\d+) as expected, (\d+) not;`)
)

// TestMatrixInChromium renders a matrix with one row as expected and one
// not, and checks what the browser parsed: both rows, their classes, the
// summary, and an escaped reason that stayed text. With IDLAB_MATRIX_HTML
// set (make e2e) it checks that run's page instead: every row as expected
// and as many rows as the summary says, and saves its screenshot beside
// it (matrix.png).
func TestMatrixInChromium(t *testing.T) {
	if page := os.Getenv("IDLAB_MATRIX_HTML"); page != "" {
		screenshot(t, page, strings.TrimSuffix(page, filepath.Ext(page))+".png")
		dom := renderedDOM(t, page, "")
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
		{Suite: "token rotation", Scenario: "renewed", Mechanism: "IRSA", Expected: "allow", Observed: "allow", Passed: true, AsExpected: true},
	}}
	dir := t.TempDir()
	page := filepath.Join(dir, "matrix.html")
	f, err := os.Create(page)
	require.NoError(t, err)
	require.NoError(t, res.HTML(f, "Conformance", time.Minute))
	require.NoError(t, f.Close())
	screenshot(t, page, filepath.Join(dir, "matrix.png"))

	dom := renderedDOM(t, page, "")
	require.Equal(t, [][]string{{`<tr class="ok">`, "ok", ""}, {`<tr class="bad">`, "bad", ""}, {`<tr class="ok">`, "ok", ""}}, rowRE.FindAllStringSubmatch(dom, -1))
	// The grid: IRSA has one isolation row of two as expected (red) and one
	// rotation row as expected (green).
	require.Contains(t, dom, `<tr><th>IRSA</th><td class="bad">1/2</td><td class="ok">1/1</td><td class="none">-</td>`)
	require.Contains(t, dom, `<h2>irsa <span class="count">1/2 as expected</span></h2>`)
	require.Contains(t, dom, `<h2>token rotation <span class="count">1/1 as expected</span></h2>`)
	// The filter, from the URL: only the AccessDenied row stays, and the
	// rotation suite, left with none, is hidden.
	filtered := renderedDOM(t, page, "#q=accessdenied")
	require.Equal(t, [][]string{{`<tr class="ok" style="display: none;">`, "ok", ` style="display: none;"`}, {`<tr class="bad">`, "bad", ""},
		{`<tr class="ok" style="display: none;">`, "ok", ` style="display: none;"`}}, rowRE.FindAllStringSubmatch(filtered, -1))
	require.Contains(t, filtered, `<section class="suite" style="display: none;"><h2>token rotation`)
	require.Equal(t, []string{`<p id="summary">3 rows: 2 as expected, 1 not;`, "3", "2", "1"}, summaryRE.FindStringSubmatch(dom))
	require.Contains(t, dom, "NOT as expected")
	require.Contains(t, dom, "<title>Conformance</title>", "the reason's script did not run")
	require.Contains(t, dom, `&lt;script&gt;`, "the reason is text, not markup")
}
