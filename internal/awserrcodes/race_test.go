//go:build race

package awserrcodes_test

// buildFlags are this test binary's flags that change the export data go
// list builds for Scan: with them, the build cache of the test run serves
// it.
var buildFlags = []string{"-race"}
