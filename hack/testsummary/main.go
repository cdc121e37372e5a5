// Command testsummary is make test's view of `go test -json ./...` (stdin):
// what plain `go test` prints (each package's result, a failed test's
// output) and then, loudly, every skipped test with its reason, because a
// skip is work not done. It exits 1 when a test failed or, with CI=true
// (where hack/setup-test-tools.sh installs every tool a test needs), when a
// test skipped.
package main

import (
	"fmt"
	"os"

	"github.com/idlab/idlab/harness/report"
)

func main() {
	res, err := report.Read(os.Stdin, report.Brief(os.Stdout))
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		os.Exit(1)
	}
	skipErr := res.CheckSkips(os.Stdout, os.Getenv("CI") == "true")
	failed := 0
	for _, t := range res.Tests {
		if t.Action == "fail" {
			failed++
		}
	}
	fmt.Printf("testsummary: %d tests and subtests, %d failed, %d skipped\n", len(res.Tests), failed, len(res.Skipped()))
	if failed > 0 || skipErr != nil {
		if skipErr != nil {
			fmt.Fprintf(os.Stderr, "testsummary: %v\n", skipErr)
		}
		os.Exit(1)
	}
}
