package report

import (
	"io"
	"strings"
)

// Echo receives a run's text while Read reads it.
type Echo interface {
	// Output is text a test printed, or its package when test is "" (also
	// build output and lines that are not JSON).
	Output(pkg, test, text string)
	// Done is a test's result: pass, fail or skip.
	Done(pkg, test, action string)
}

// Plain echoes all the text as it comes, as `go test -v` shows it. A nil w
// echoes nothing.
func Plain(w io.Writer) Echo { return plain{w} }

type plain struct{ w io.Writer }

func (p plain) Output(_, _, text string) {
	if p.w != nil {
		_, _ = io.WriteString(p.w, text)
	}
}

func (plain) Done(_, _, _ string) {}

// Brief echoes what `go test` without -v shows: the packages' own lines
// ("ok", "FAIL", build errors) as they come, and a test's output only once
// it fails.
func Brief(w io.Writer) Echo { return &brief{w: w, held: map[string][]string{}} }

type brief struct {
	w    io.Writer
	held map[string][]string // the output of tests still running
}

func (b *brief) Output(pkg, test, text string) {
	switch {
	case test != "":
		if !strings.HasPrefix(text, "=== ") {
			k := pkg + "\x00" + test
			b.held[k] = append(b.held[k], text)
		}
	case text != "PASS\n":
		_, _ = io.WriteString(b.w, text)
	}
}

func (b *brief) Done(pkg, test, action string) {
	k := pkg + "\x00" + test
	if action == "fail" {
		_, _ = io.WriteString(b.w, strings.Join(b.held[k], ""))
	}
	delete(b.held, k)
}
