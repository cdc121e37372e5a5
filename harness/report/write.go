package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// JUnit writes the tests as JUnit XML, one testsuite per package, which CI
// systems render.
func (r *Result) JUnit(w io.Writer) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Body    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string    `xml:"name,attr"`
		Classname string    `xml:"classname,attr"`
		Time      string    `xml:"time,attr"`
		Failure   *failure  `xml:"failure,omitempty"`
		Skipped   *struct{} `xml:"skipped,omitempty"`
	}
	type testsuite struct {
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Skipped  int        `xml:"skipped,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	out := struct {
		XMLName xml.Name    `xml:"testsuites"`
		Suites  []testsuite `xml:"testsuite"`
	}{}
	index := map[string]int{}
	for _, t := range r.Tests {
		i, ok := index[t.Package]
		if !ok {
			i = len(out.Suites)
			index[t.Package] = i
			out.Suites = append(out.Suites, testsuite{Name: t.Package})
		}
		s := &out.Suites[i]
		tc := testcase{Name: t.Name, Classname: t.Package, Time: fmt.Sprintf("%.3f", t.Elapsed.Seconds())}
		switch t.Action {
		case "fail":
			tc.Failure = &failure{Message: "failed", Body: strings.Join(t.Output, "")}
			s.Failures++
		case "skip":
			tc.Skipped = &struct{}{}
			s.Skipped++
		}
		s.Tests++
		s.Cases = append(s.Cases, tc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// Markdown writes the conformance matrix as a Markdown table.
func (r *Result) Markdown(w io.Writer, title string, wall time.Duration) error {
	pass, fail := r.counts()
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n%d rows: %d as expected, %d not; suites wall time %s.\n\n", title, len(r.Rows), pass, fail, wall.Round(time.Second))
	b.WriteString("| suite | scenario | mechanism | expected | observed | result | reason |\n|---|---|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", md(row.Suite), md(row.Scenario), md(row.Mechanism),
			md(row.Expected), md(row.Observed), verdict(row), md(row.Reason))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteFiles writes junit.xml, matrix.md and matrix.html into dir.
func (r *Result) WriteFiles(dir, title string, wall time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer) error{
		"junit.xml":   r.JUnit,
		"matrix.md":   func(w io.Writer) error { return r.Markdown(w, title, wall) },
		"matrix.html": func(w io.Writer) error { return r.HTML(w, title, wall) },
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func (r *Result) counts() (pass, fail int) {
	for _, row := range r.Rows {
		if row.AsExpected {
			pass++
		} else {
			fail++
		}
	}
	return pass, fail
}

func verdict(r Row) string {
	if r.AsExpected {
		return "as expected"
	}
	return "**NOT as expected**: " + md(r.Why)
}

// md makes a value safe in a Markdown table cell.
func md(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
