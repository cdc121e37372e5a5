package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

func versionCommand() command {
	return command{name: "version", summary: "print idlab's module version, VCS revision and Go version", run: runVersion,
		about: `Prints the module version (v1.2.3 when installed with go install
MODULE@VERSION, "(devel)" when built in a checkout), the VCS revision
and time the binary was built from (with "+dirty" when the tree had
uncommitted changes) and the Go version, from the binary's build info.`}
}

func runVersion(_ context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("no build info in this binary")
	}
	fmt.Fprintln(env.stdout, versionLine(bi))
	return nil
}

// versionLine is "idlab VERSION (REVISION[+dirty] TIME) GOVERSION"; the
// parenthesis is left out when the build recorded no VCS.
func versionLine(bi *debug.BuildInfo) string {
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	line := "idlab " + v
	if rev != "" {
		line += fmt.Sprintf(" (%s%s %s)", rev, dirty, at)
	}
	return line + " " + bi.GoVersion
}
