package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHelpGroupsCommands: `idlab help` lists the host commands, then the
// in-cluster ones, each command under its own group's header.
func TestHelpGroupsCommands(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
	}{
		{args: []string{"help"}, wantCode: 0},
		{args: []string{"--help"}, wantCode: 0},
		{args: nil, wantCode: 2},
		{args: []string{"no-such-command"}, wantCode: 2},
	}
	for _, tc := range tests {
		t.Run(strings.Join(append([]string{"idlab"}, tc.args...), " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, tc.wantCode, run(context.Background(), tc.args, &stdout, &stderr))
			out := stderr.String()
			host := strings.Index(out, "\nhost commands:\n")
			inCluster := strings.Index(out, "\nin-cluster commands (")
			require.Positive(t, host, out)
			require.Greater(t, inCluster, host, "host commands first")
			for _, name := range []string{"up", "down", "e2e", "serve", "report"} {
				at := strings.Index(out, "\n  "+name+" ")
				require.True(t, at > host && at < inCluster, "%s under host commands:\n%s", name, out)
			}
			for _, name := range []string{"irsa-webhook", "eks-pod-identity-agent", "kube2iam", "gke-metadata", "gtoken", "gtoken-webhook", "azure-webhook"} {
				require.Greater(t, strings.Index(out, "\n  "+name+" "), inCluster, "%s under in-cluster commands:\n%s", name, out)
			}
		})
	}
}

// TestEveryCommandInAGroup: a command of no listed group would be missing
// from the help.
func TestEveryCommandInAGroup(t *testing.T) {
	var buf bytes.Buffer
	printUsage(&buf, commands())
	for _, c := range commands() {
		require.Contains(t, buf.String(), "  "+c.name+" ", "%s is listed", c.name)
	}
	require.Equal(t, len(commands()), strings.Count(buf.String(), "\n  "), "each command once")
}
