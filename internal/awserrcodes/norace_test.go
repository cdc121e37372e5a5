//go:build !race

package awserrcodes_test

// buildFlags are this test binary's flags that change the export data go
// list builds for Scan: none without -race.
var buildFlags []string
