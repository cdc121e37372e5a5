package report

import (
	"html/template"
	"io"
	"sort"
	"strings"
	"time"
)

// Classes are the outcome classes of the summary grid, in its column
// order: what a row proves, whatever its mechanism.
var Classes = []string{"isolation", "rotation", "cross-account", "cross-cloud", "bugs", "trust boundary"}

// Class is the outcome class of a row, from its suite, mechanism and test
// (rows carry no class of their own): the rotation and cross-account
// suites; GKE-to-AWS mechanisms (gtoken, a Google ID token as web
// identity); rows that reproduce a public bug (the IRSA bugs suite and any
// identity-bugs subtest); the trust-boundary suite; else isolation.
func Class(r Row) string {
	suite, mech := strings.ToLower(r.Suite), strings.ToLower(r.Mechanism)
	switch {
	case strings.Contains(suite, "rotation"):
		return "rotation"
	case strings.Contains(suite, "cross-account"):
		return "cross-account"
	case strings.Contains(mech, "gke to aws") || strings.Contains(mech, "gtoken"):
		return "cross-cloud"
	case strings.Contains(suite, "bugs") || strings.Contains(r.Test, "/identity-bugs/"):
		return "bugs"
	case strings.Contains(suite, "trustboundary") || strings.Contains(suite, "trust boundary"):
		return "trust boundary"
	}
	return "isolation"
}

// cell is one mechanism x class count of the summary grid.
type cell struct{ Rows, AsExpected int }

// State is the cell's colour class: empty, all as expected, or not.
func (c cell) State() string {
	switch {
	case c.Rows == 0:
		return "none"
	case c.AsExpected == c.Rows:
		return "ok"
	}
	return "bad"
}

type gridRow struct {
	Mechanism string
	Cells     []cell
}

type section struct {
	Suite      string
	Rows       []Row
	AsExpected int
}

// grid counts rows per mechanism (sorted) and class (Classes' order).
func grid(rows []Row) []gridRow {
	col := map[string]int{}
	for i, c := range Classes {
		col[c] = i
	}
	byMech := map[string]*gridRow{}
	for _, r := range rows {
		g := byMech[r.Mechanism]
		if g == nil {
			g = &gridRow{Mechanism: r.Mechanism, Cells: make([]cell, len(Classes))}
			byMech[r.Mechanism] = g
		}
		c := &g.Cells[col[Class(r)]]
		c.Rows++
		if r.AsExpected {
			c.AsExpected++
		}
	}
	out := make([]gridRow, 0, len(byMech))
	for _, g := range byMech {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Mechanism < out[j].Mechanism })
	return out
}

// sections groups rows by suite in the order the suites first appear.
func sections(rows []Row) []section {
	var out []section
	at := map[string]int{}
	for _, r := range rows {
		i, ok := at[r.Suite]
		if !ok {
			i = len(out)
			at[r.Suite] = i
			out = append(out, section{Suite: r.Suite})
		}
		out[i].Rows = append(out[i].Rows, r)
		if r.AsExpected {
			out[i].AsExpected++
		}
	}
	return out
}

var page = template.Must(template.New("matrix").Funcs(template.FuncMap{"class": Class}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}}</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:110em}
table{border-collapse:collapse;width:100%;table-layout:fixed}
td,th{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
#grid{width:auto;table-layout:auto}#grid td{text-align:center;min-width:6em}
.ok{background:#d4f7d4}.bad{background:#f7d4d4}.none{background:#f4f4f4;color:#999}
tr.ok td{background:inherit}tr.ok td.result{background:#d4f7d4}tr.bad td.result{background:#f7d4d4}
th.scenario{width:15%}th.mechanism{width:13%}th.class{width:8%}th.expected,th.observed{width:11%}th.result{width:9%}
details summary{cursor:pointer}details pre{white-space:pre-wrap;font-size:85%;margin:.3em 0}
h2 .count{font-weight:normal;font-size:70%}
#filter{font-size:110%;padding:4px;width:30em;margin:1em 0}
</style></head>
<body><h1>{{.Title}}</h1>
<p id="summary">{{len .Rows}} rows: {{.Pass}} as expected, {{.Fail}} not; suites wall time {{.Wall}}.</p>
<h2>By mechanism and outcome</h2>
<table id="grid"><thead><tr><th>mechanism</th>{{range .Classes}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Grid}}<tr><th>{{.Mechanism}}</th>{{range .Cells}}<td class="{{.State}}">{{if .Rows}}{{.AsExpected}}/{{.Rows}}{{else}}-{{end}}</td>{{end}}</tr>
{{end}}</tbody></table>
<p>Each cell: rows as expected / rows. Green: all as expected; red: at least one not.</p>
<input id="filter" type="search" placeholder="filter rows: suite, scenario, mechanism, code, reason ..." aria-label="filter rows">
{{range .Sections}}<section class="suite"><h2>{{.Suite}} <span class="count">{{.AsExpected}}/{{len .Rows}} as expected</span></h2>
<table class="rows"><thead><tr><th class="scenario">scenario</th><th class="mechanism">mechanism</th><th class="class">class</th><th class="expected">expected</th><th class="observed">observed</th><th class="result">result</th><th>reason</th></tr></thead><tbody>
{{range .Rows}}<tr class="{{if .AsExpected}}ok{{else}}bad{{end}}"><td>{{.Scenario}}</td><td>{{.Mechanism}}</td><td>{{class .}}</td><td>{{.Expected}}</td><td>{{.Observed}}</td><td class="result">{{if .AsExpected}}as expected{{else}}NOT as expected: {{.Why}}{{end}}</td><td class="reason">{{if .Reason}}<details><summary>{{.Reason | printf "%.80s"}}{{if gt (len .Reason) 80}} ...{{end}}</summary><pre>{{.Reason}}</pre>{{if .Test}}<pre>test: {{.Test}}</pre>{{end}}</details>{{else if .Test}}<details><summary>test</summary><pre>{{.Test}}</pre></details>{{end}}</td></tr>
{{end}}</tbody></table></section>
{{end}}
<script>
// The filter hides rows whose text does not contain every word typed, and
// suites left with none.
// A link can carry a filter: matrix.html#q=AccessDenied.
var filter = document.getElementById("filter");
function apply() {
  var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
  document.querySelectorAll("section.suite").forEach(function (s) {
    var shown = 0;
    s.querySelectorAll("tbody tr").forEach(function (tr) {
      var text = tr.textContent.toLowerCase();
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; });
      tr.style.display = ok ? "" : "none";
      if (ok) shown++;
    });
    s.style.display = shown ? "" : "none";
  });
}
filter.addEventListener("input", apply);
if (location.hash.indexOf("#q=") === 0) {
  filter.value = decodeURIComponent(location.hash.slice(3));
  apply();
}
</script>
</body></html>
`))

// HTML writes the conformance matrix as a page: the summary, a grid of
// mechanism x outcome class, then one section per suite whose rows open to
// their whole reason and test, and a filter box. html/template escapes
// every field: reasons quote tokens and policies.
func (r *Result) HTML(w io.Writer, title string, wall time.Duration) error {
	pass, fail := r.counts()
	return page.Execute(w, map[string]any{"Title": title, "Rows": r.Rows, "Pass": pass, "Fail": fail,
		"Wall": wall.Round(time.Second).String(), "Classes": Classes, "Grid": grid(r.Rows), "Sections": sections(r.Rows)})
}
