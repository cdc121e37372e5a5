package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Echo receives a run's text while Read reads it.
type Echo interface {
	// Output is text a test printed, or its package when test is "" (also
	// build output and lines that are not JSON).
	Output(pkg, test, text string)
	// Done is a test's result: pass, fail or skip; or, when test is "",
	// its package's, after which none of the package's tests ends.
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
// it fails, or once its package fails while it still runs: a test binary
// that timed out or crashed prints its panic and goroutines as the output
// of whichever test ran last, and that test never ends.
func Brief(w io.Writer) Echo { return &brief{w: w, held: map[string][]string{}} }

type brief struct {
	w     io.Writer
	held  map[string][]string // the output of tests still running
	order []string            // held's keys, oldest first
}

func (b *brief) Output(pkg, test, text string) {
	switch {
	case test != "":
		if !strings.HasPrefix(text, "=== ") {
			k := pkg + "\x00" + test
			if _, ok := b.held[k]; !ok {
				b.order = append(b.order, k)
			}
			b.held[k] = append(b.held[k], text)
		}
	case text != "PASS\n":
		_, _ = io.WriteString(b.w, text)
	}
}

func (b *brief) Done(pkg, test, action string) {
	if test == "" {
		// The package ended: its tests still held never will.
		kept := b.order[:0]
		for _, k := range b.order {
			p, t, _ := strings.Cut(k, "\x00")
			if p != pkg {
				kept = append(kept, k)
				continue
			}
			if action == "fail" {
				_, _ = fmt.Fprintf(b.w, "--- %s: still running when %s failed:\n%s", t, pkg, strings.Join(b.held[k], ""))
			}
			delete(b.held, k)
		}
		b.order = kept
		return
	}
	k := pkg + "\x00" + test
	if action == "fail" {
		_, _ = io.WriteString(b.w, strings.Join(b.held[k], ""))
	}
	if _, ok := b.held[k]; ok {
		b.order = slices.DeleteFunc(b.order, func(o string) bool { return o == k })
	}
	delete(b.held, k)
}
