package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// revision is the commit the binary was built from, set by make build
// and hack/e2e.sh (-ldflags -X main.revision=$(git describe --always
// --dirty)): the machines here build with -buildvcs=false, so the build
// info often has no VCS settings.
var revision string

func versionCommand() command {
	return command{name: "version", summary: "print idlab's module version, VCS revision and Go version", run: runVersion,
		about: `Prints the module version (v1.2.3 when installed with go install
MODULE@VERSION, "(devel)" when built in a checkout), the commit the binary
was built from (the build's VCS stamp, else the git describe --dirty that
make build passes) and the Go version, from the binary's build info.`}
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
	fmt.Fprintln(env.stdout, versionLine(bi, revision))
	return nil
}

// versionLine is "idlab VERSION (REVISION[+dirty] TIME) GOVERSION" from
// the build's VCS settings, else "idlab VERSION (rev) GOVERSION" with the
// revision passed at build time; no parenthesis when neither is known.
func versionLine(bi *debug.BuildInfo, rev string) string {
	var vcsRev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			vcsRev = s.Value
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
	switch {
	case vcsRev != "":
		line += fmt.Sprintf(" (%s%s %s)", vcsRev, dirty, at)
	case rev != "":
		line += " (" + rev + ")"
	}
	return line + " " + bi.GoVersion
}
