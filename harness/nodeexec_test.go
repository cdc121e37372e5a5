package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeDocker puts a docker on PATH that logs its arguments, one call a
// line, and answers `ps` with ps and anything else with "out" (exit
// status 3 when exec is "fail").
func fakeDocker(t *testing.T, ps, exec string) (calls func() []string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	script := `#!/bin/sh
echo "$*" >> ` + log + `
case "$1" in
ps) printf '%s\n' "` + ps + `" ;;
*) [ "` + exec + `" = fail ] && { echo boom >&2; exit 3; }; printf ' out \n' ;;
esac
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return func() []string {
		raw, err := os.ReadFile(log)
		require.NoError(t, err)
		return strings.Split(strings.TrimSpace(string(raw)), "\n")
	}
}

func TestNodeExec(t *testing.T) {
	query := "ps -q --filter label=io.x-k8s.kind.cluster=eks --filter name=^/?eks-control-plane$"
	tests := []struct {
		name, ps, exec string
		want           string
		wantErr        string
		wantCalls      []string
	}{
		{name: "one container", ps: "abc123", want: "out",
			wantCalls: []string{query, "exec abc123 cat -- /etc/cni/net.d/x.conflist"}},
		{name: "no container", ps: "", wantErr: "node eks-control-plane of cluster eks: 0 containers match, want 1", wantCalls: []string{query}},
		{name: "two containers", ps: "a b", wantErr: "2 containers match", wantCalls: []string{query}},
		{name: "the command fails", ps: "abc123", exec: "fail", wantErr: "exit status 3: boom",
			wantCalls: []string{query, "exec abc123 cat -- /etc/cni/net.d/x.conflist"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := fakeDocker(t, tc.ps, tc.exec)
			got, err := NodeExec(context.Background(), "eks", "eks-control-plane", "cat", "--", "/etc/cni/net.d/x.conflist")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			}
			require.Equal(t, tc.wantCalls, calls())
		})
	}
	_, err := NodeExec(context.Background(), "eks", "eks-control-plane")
	require.ErrorContains(t, err, "no command")
}

// TestNodeContainerQuery: the name filter is the node's name exactly, its
// regular-expression characters quoted.
func TestNodeContainerQuery(t *testing.T) {
	q := nodeContainerQuery("gke", "gke.worker-2")
	require.Equal(t, []string{"ps", "-q", "--filter", "label=io.x-k8s.kind.cluster=gke", "--filter", `name=^/?gke\.worker-2$`}, q)
}
