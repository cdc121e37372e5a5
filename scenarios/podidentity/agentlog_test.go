package podidentity

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// agentAllowMsg is the message of the agent's allow decision
// (components/eksagent, serveCredentials), which `idlab
// eks-pod-identity-agent server` logs with slog's text handler.
const agentAllowMsg = `msg="pod identity agent allow"`

// agentAllowRemotes returns the remote address (host:port) of every allow
// decision in an agent log, in order: the address the agent saw the
// request come from. Other lines, and allow lines without a remote, are
// skipped.
func agentAllowRemotes(log []byte) []string {
	var out []string
	for _, line := range bytes.Split(log, []byte("\n")) {
		if !bytes.Contains(line, []byte(" "+agentAllowMsg+" ")) {
			continue
		}
		for _, f := range strings.Fields(string(line)) {
			if v, ok := strings.CutPrefix(f, "remote="); ok && v != "" {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

// TestAgentAllowRemotes reads lines written the way the agent writes them:
// slog's text handler, the agent's attributes.
func TestAgentAllowRemotes(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("pod identity agent serving", "addr", "169.254.170.23:80", "cluster", "eks")
	log.Info("pod identity agent allow", "decision", "Allow", "remote", "10.244.0.7:51234", "action", "eks-auth:AssumeRoleForPodIdentity",
		"resource", "eks", "association", "a-1", "cached", false, "access_key", "ASIAX")
	log.Info("pod identity agent deny", "decision", "Deny", "status", 400, "remote", "10.244.0.8:1", "reason", "remote=1.2.3.4:5 msg=\"pod identity agent allow\"")
	log.Info("pod identity agent allow", "decision", "Allow", "remote", "169.254.170.23:40000", "association", "a b")
	require.Equal(t, []string{"10.244.0.7:51234", "169.254.170.23:40000"}, agentAllowRemotes(buf.Bytes()))
	require.Empty(t, agentAllowRemotes(nil))
	require.Empty(t, agentAllowRemotes([]byte(agentAllowMsg+" remote=1.2.3.4:5")), "not a whole slog line")
}

// FuzzAgentAllowRemotes: any log is read without panic, and every remote
// found is a field of a line holding the allow message.
func FuzzAgentAllowRemotes(f *testing.F) {
	f.Add([]byte(`time=2026-12-07T02:00:00Z level=INFO msg="pod identity agent allow" decision=Allow remote=10.244.0.7:1 cached=false`))
	f.Add([]byte("remote=\n msg=\"pod identity agent allow\" remote= remote=x\n"))
	f.Fuzz(func(t *testing.T, log []byte) {
		for _, r := range agentAllowRemotes(log) {
			require.NotEmpty(t, r)
			require.NotContains(t, r, " ")
			require.Contains(t, string(log), "remote="+r)
		}
	})
}
