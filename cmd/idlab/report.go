package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/idlab/idlab/harness/report"
)

func reportCommand() command {
	return command{
		name:    "report",
		summary: "read `go test -json` of the scenario suites on stdin: echo it, write junit.xml and the conformance matrix (md, html)",
		run:     runReport,
	}
}

// errTestsFailed makes `idlab report` exit non-zero when a test failed, so
// `go test -json | idlab report` fails as the tests did.
var errTestsFailed = errors.New("scenario tests failed")

func runReport(_ context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	out := fs.String("out", "artifacts", "directory for junit.xml, matrix.md and matrix.html")
	title := fs.String("title", "idlab conformance matrix", "title of the matrix")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	start := time.Now()
	res, err := report.Read(os.Stdin, env.stdout)
	if err != nil {
		return err
	}
	wall := time.Since(start)
	if err := res.WriteFiles(*out, *title, wall); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "report: %d tests, %d matrix rows; %s\n", len(res.Tests), len(res.Rows),
		filepath.Join(*out, "matrix.md"))
	if res.Failed() {
		return errTestsFailed
	}
	return nil
}
