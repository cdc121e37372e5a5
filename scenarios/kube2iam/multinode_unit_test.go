package kube2iam

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// TestCrossNodeObserved: the cross-node row holds only on both pieces of
// evidence: the pod's 404 and the other node's kube2iam's 404 for the
// pod's (or its node's) address; an allow or any other refusal shows as
// not expected.
func TestCrossNodeObserved(t *testing.T) {
	refused := probe.Result{ErrorCode: "ClientError", Output: `404 pod with specificed IP "172.18.0.2" not found`}
	deny := decision{Decision: "Deny", RemoteIP: "172.18.0.2", Status: 404, Reason: "no pod with IP 172.18.0.2"}
	tests := []struct {
		name string
		res  probe.Result
		ds   []decision
		want string
	}{
		{name: "denied, masqueraded to the node", res: refused, ds: []decision{deny}, want: crossNodeDenied},
		{name: "denied, pod address kept", res: refused, ds: []decision{{Decision: "Deny", RemoteIP: "10.244.0.7", Status: 404, Reason: "no pod with IP 10.244.0.7"}}, want: crossNodeDenied},
		{name: "allowed", res: probe.Result{OK: true, Arn: "arn:aws:sts::123456789012:assumed-role/kube2iam-app/x"}, ds: []decision{deny}, want: "allow: kube2iam-app"},
		{name: "no decision logged", res: refused, want: `not allow (ClientError; raw answer "404 pod with specificed IP \"172.18.0.2\" not found"; 0 decisions of that kube2iam about the caller)`},
		{name: "another caller's decision", res: refused, ds: []decision{{Decision: "Deny", RemoteIP: "172.18.0.9", Status: 404, Reason: "no pod with IP 172.18.0.9"}}},
		{name: "another refusal", res: refused, ds: []decision{{Decision: "Deny", RemoteIP: "172.18.0.2", Status: 403, Reason: "role not allowed"}}},
		{name: "the pod saw no 404", res: probe.Result{ErrorCode: "ClientError", Output: "ERROR timeout"}, ds: []decision{deny}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := crossNodeObserved(tc.res, tc.ds, "10.244.0.7", "172.18.0.2")
			if tc.want == "" {
				require.NotEqual(t, crossNodeDenied, got)
				require.Contains(t, got, "not allow")
				return
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// TestViaNode: the own-node rows name the node whose kube2iam decided and
// the node role STS saw; a decision on no node or on two shows as such.
func TestViaNode(t *testing.T) {
	ok := probe.Result{OK: true, Arn: "arn:aws:sts::123456789012:assumed-role/kube2iam-app/x"}
	require.Equal(t, "allow: kube2iam-app via eks-worker's kube2iam as eks-node-2", viaNode(ok, []string{"eks-worker"}, "eks-node-2"))
	require.Equal(t, "allow: kube2iam-app via eks-worker's kube2iam", viaNode(ok, []string{"eks-worker"}, ""))
	require.NotEqual(t, viaNode(ok, []string{"eks-worker"}, "eks-node-2"), viaNode(ok, []string{"eks-worker"}, ""),
		"a row expecting node 2's role fails when STS saw none")
	require.Equal(t, "allow: kube2iam-app (kube2iam decided on 0 nodes: [])", viaNode(ok, nil, "eks-node"))
	require.Equal(t, "AccessDenied (kube2iam decided on 2 nodes: [a b])", viaNode(probe.Result{ErrorCode: "AccessDenied"}, []string{"a", "b"}, ""))
}
