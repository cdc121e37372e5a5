package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHelpGroupsCommands: `idlab help` lists the host commands, then the
// in-cluster ones, each command under its own group's header, on stdout;
// with no command at all the same goes to stderr with exit 2.
func TestHelpGroupsCommands(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		toStderr bool
	}{
		{args: []string{"help"}, wantCode: 0},
		{args: []string{"--help"}, wantCode: 0},
		{args: []string{"-h"}, wantCode: 0},
		{args: nil, wantCode: 2, toStderr: true},
	}
	for _, tc := range tests {
		t.Run(strings.Join(append([]string{"idlab"}, tc.args...), " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, tc.wantCode, run(context.Background(), tc.args, &stdout, &stderr))
			out, other := stdout.String(), stderr.String()
			if tc.toStderr {
				out, other = other, out
			}
			require.Empty(t, other)
			host := strings.Index(out, "\nhost commands:\n")
			inCluster := strings.Index(out, "\nin-cluster commands (")
			require.Positive(t, host, out)
			require.Greater(t, inCluster, host, "host commands first")
			for _, name := range []string{"up", "down", "e2e", "serve", "report", "version", "load", "kubeconfig", "decisions", "explain"} {
				at := strings.Index(out, "\n  "+name+" ")
				require.True(t, at > host && at < inCluster, "%s under host commands:\n%s", name, out)
			}
			for _, name := range []string{"irsa-webhook", "eks-pod-identity-agent", "kube2iam", "gke-metadata", "gtoken", "gtoken-webhook", "azure-webhook", "lab-ca-webhook"} {
				require.Greater(t, strings.Index(out, "\n  "+name+" "), inCluster, "%s under in-cluster commands:\n%s", name, out)
			}
			require.Contains(t, out, "exit status:\n  0  done")
		})
	}
}

// TestEveryCommandInAGroup: a command of no listed group would be missing
// from the help.
func TestEveryCommandInAGroup(t *testing.T) {
	var buf bytes.Buffer
	printUsage(&buf, commands())
	list := buf.String()[strings.Index(buf.String(), "\nhost commands:"):strings.Index(buf.String(), "exit status:")]
	for _, c := range commands() {
		require.Contains(t, list, "  "+c.name+" ", "%s is listed", c.name)
	}
	require.Equal(t, len(commands()), strings.Count(list, "\n  "), "each command once")
}

// TestCommandHelp: `idlab help CMD` and `idlab CMD --help` print the same
// help on stdout, exit 0, and do nothing else; the help has the usage,
// the flags the command defines and, for the lab commands, the
// environment they read.
func TestCommandHelp(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{cmd: "up", want: []string{"usage: idlab up [flags]", "Brings up the lab", "\nflags:\n", "-state-dir", "-kind-config", "\nenvironment:\n", "IDLAB_STATE_DIR", "IDLAB_CLUSTERS", "\nexamples:\n", "idlab up --probe bin/probe --pyclient --toolclient"}},
		{cmd: "e2e", want: []string{"usage: idlab e2e [flags] [suite packages]", "-manifest", "-keep", "IDLAB_KEEP", "CI ", "Exit 1 means rows not as expected"}},
		{cmd: "down", want: []string{"usage: idlab down [flags]", "-state-dir"}},
		{cmd: "status", want: []string{"usage: idlab status [flags]", "any directory"}},
		{cmd: "logs", want: []string{"usage: idlab logs [--dir DIR] [flags]"}},
		{cmd: "serve", want: []string{"usage: idlab serve [flags]", "-config", "-data-dir", "-https-port"}},
		{cmd: "report", want: []string{"-write-manifest", "go test -json"}},
		{cmd: "node-image", want: []string{"-k8s-version", "IDLAB_NODE_IMAGE_PULL"}},
		{cmd: "version", want: []string{"usage: idlab version [flags]", "build info"}},
		{cmd: "irsa-webhook", want: []string{"-cert-dir", "-aws-default-region"}},
		{cmd: "gtoken", want: []string{"-audience", "-refresh"}},
		{cmd: "kube2iam", want: []string{"usage: idlab kube2iam serve|iptables [flags]"}},
		{cmd: "up", want: []string{"-f string", "lab file (idlab.yaml", "idlab up -f examples/idlab.yaml"}},
		{cmd: "load", want: []string{"usage: idlab load [--cluster NAME]... [flags] IMAGE...", "-cluster value", "no registry"}},
		{cmd: "kubeconfig", want: []string{"usage: idlab kubeconfig [--cluster NAME] [--output FILE]", "-output string", "IDLAB_STATE_DIR"}},
		{cmd: "decisions", want: []string{"-follow", "-principal string", "-effect string", "-json", "SEQ TIME EFFECT CLOUD/SERVICE"}},
		{cmd: "explain", want: []string{"usage: idlab explain [--state-dir DIR] REQUEST-ID|SEQ", "trust statement"}},
		{cmd: "lab-ca-webhook", want: []string{"-bundle-dir", "-cert-dir"}},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			var helpOut, flagOut, stderr bytes.Buffer
			require.Equal(t, 0, run(context.Background(), []string{"help", tc.cmd}, &helpOut, &stderr))
			require.Empty(t, stderr.String())
			require.Equal(t, 0, run(context.Background(), []string{tc.cmd, "--help"}, &flagOut, &stderr))
			require.Empty(t, stderr.String())
			require.Equal(t, helpOut.String(), flagOut.String())
			for _, w := range tc.want {
				require.Contains(t, helpOut.String(), w)
			}
			require.Contains(t, helpOut.String(), "\nexit status:\n")
		})
	}
}

// TestCommandLineMistakes: each mistake is said once, on stderr, with
// where to find the usage, and exits 2; nothing goes to stdout.
func TestCommandLineMistakes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{args: []string{"no-such-command"}, want: `idlab: unknown command "no-such-command"; idlab help lists them` + "\n"},
		{args: []string{"help", "no-such-command"}, want: `idlab help: no command "no-such-command"; idlab help lists them` + "\n"},
		{args: []string{"up", "--no-such-flag"}, want: "idlab up: flag provided but not defined: -no-such-flag\nidlab help up shows its usage\n"},
		{args: []string{"status", "extra"}, want: "idlab status: unexpected arguments [extra]\nidlab help status shows its usage\n"},
		{args: []string{"serve", "--https-port", "x"}, want: "idlab serve: invalid value \"x\" for flag -https-port: parse error\nidlab help serve shows its usage\n"},
		{args: []string{"version", "--json"}, want: "idlab version: flag provided but not defined: -json\nidlab help version shows its usage\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, 2, run(context.Background(), tc.args, &stdout, &stderr))
			require.Empty(t, stdout.String())
			require.Equal(t, tc.want, stderr.String())
		})
	}
}

// TestExitCode: the documented statuses; rows not as expected are the
// result even when the teardown after them failed too.
func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"done", nil, 0},
		{"help", flag.ErrHelp, 0},
		{"usage", fmt.Errorf("%w: unexpected arguments", errUsage), 2},
		{"lab did not come up", fmt.Errorf("%w: create cluster: boom", errLab), 3},
		{"rows not as expected", fmt.Errorf("%w: suites failed", errRows), 1},
		{"rows, then teardown failed", errors.Join(fmt.Errorf("%w: x", errRows), fmt.Errorf("%w: down", errLab)), 1},
		{"any other failure", errors.New("boom"), 1},
	} {
		require.Equal(t, tc.want, exitCode(tc.err), tc.name)
	}
}

func TestVersionLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		rev  string // -X main.revision
		want string
	}{
		{"a checkout's build", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261206200515-77b11597e24a"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "77b1159"}, {Key: "vcs.time", Value: "2026-12-06T20:05:15Z"}, {Key: "vcs.modified", Value: "false"}}},
			"", "idlab v0.0.0-20261206200515-77b11597e24a (77b1159 2026-12-06T20:05:15Z) go1.26.8"},
		{"uncommitted changes", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "77b1159"}, {Key: "vcs.time", Value: "T"}, {Key: "vcs.modified", Value: "true"}}},
			"", "idlab (devel) (77b1159+dirty T) go1.26.8"},
		{"go install of a release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}}, "", "idlab v1.2.3 go1.26.8"},
		{"no version at all", debug.BuildInfo{GoVersion: "go1.26.8"}, "", "idlab (devel) go1.26.8"},
		{"make build, VCS stamping off", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "c1bb1bb-dirty", "idlab (devel) (c1bb1bb-dirty) go1.26.8"},
		{"the build's own VCS wins", debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "77b1159"}, {Key: "vcs.time", Value: "T"}}}, "c1bb1bb", "idlab (devel) (77b1159 T) go1.26.8"},
	} {
		require.Equal(t, tc.want, versionLine(&tc.bi, tc.rev), tc.name)
	}
}
