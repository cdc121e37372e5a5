// Package lazyre is a regular expression compiled on its first use rather
// than at package initialization.
//
// Every package linked into the idlab binary is initialized whichever
// command runs, and a bounded repetition such as [A-Za-z0-9_-]{1,256}
// compiles to one instruction per repeat: the emulators' name and ARN rules
// took about 1 MiB of heap that stayed live, and more in garbage, at the
// start of every idlab process, including idle `idlab serve`s that never
// see the request the rule checks (issue 13). A Regexp costs nothing until
// a match; then it is the regexp.Regexp it wraps.
package lazyre

import (
	"regexp"
	"sync"
)

// Regexp is regexp.MustCompile(expr), done once on the first match.
type Regexp struct {
	expr string
	re   func() *regexp.Regexp
}

// New returns expr to compile on first use. A bad expression panics
// there, as regexp.MustCompile does; the packages' tests run every one.
func New(expr string) *Regexp {
	return &Regexp{expr: expr, re: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })}
}

// Regexp is the compiled expression.
func (r *Regexp) Regexp() *regexp.Regexp { return r.re() }

// MatchString is regexp.Regexp.MatchString.
func (r *Regexp) MatchString(s string) bool { return r.re().MatchString(s) }

// FindStringSubmatch is regexp.Regexp.FindStringSubmatch.
func (r *Regexp) FindStringSubmatch(s string) []string { return r.re().FindStringSubmatch(s) }

// String is the source text.
func (r *Regexp) String() string { return r.expr }
