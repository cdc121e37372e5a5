package podidentity

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAgentViaNode: the multi-node rows name the node whose agent served
// the pod and the node role EKS Auth saw; missing or doubled evidence
// shows as not expected.
func TestAgentViaNode(t *testing.T) {
	p := "arn:aws:sts::123456789012:assumed-role/eks-node-2/i-0abc"
	tests := []struct {
		name      string
		ok        bool
		code      string
		on        []string
		principal string
		want      string
	}{
		{name: "node 2", ok: true, on: []string{"eks-worker"}, principal: p, want: "allow via eks-worker's agent as eks-node-2"},
		{name: "node 1", ok: true, on: []string{"eks-control-plane"}, principal: "arn:aws:sts::123456789012:assumed-role/eks-node/i-0d", want: "allow via eks-control-plane's agent as eks-node"},
		{name: "no EKS Auth call", ok: true, on: []string{"eks-worker"}, want: "allow via eks-worker's agent (no EKS Auth call seen)"},
		{name: "no agent allow", ok: true, principal: p, want: "allow (the agent allowed the pod on 0 nodes: [])"},
		{name: "refused", code: "AccessDeniedException", on: []string{"eks-worker"}, principal: p, want: "AccessDeniedException via eks-worker's agent as eks-node-2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, agentViaNode(tc.ok, tc.code, tc.on, tc.principal))
		})
	}
}
