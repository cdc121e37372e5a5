package podidentity

import (
	"fmt"
	"strings"
)

// agentViaNode is what a pod bound to a node saw from EKS Pod Identity:
// its outcome (code "" is allow), the nodes whose agent logged an allow
// from the pod's address, and the node role of the session that called
// EKS Auth for it (the role of principal, arn:aws:sts::A:assumed-role/ROLE/INSTANCE;
// "" when EKS Auth logged none).
func agentViaNode(ok bool, code string, allowedOn []string, principal string) string {
	out := "allow"
	if !ok {
		out = code
	}
	if len(allowedOn) != 1 {
		return fmt.Sprintf("%s (the agent allowed the pod on %d nodes: %v)", out, len(allowedOn), allowedOn)
	}
	_, rest, found := strings.Cut(principal, ":assumed-role/")
	role, _, _ := strings.Cut(rest, "/")
	if !found || role == "" {
		return out + " via " + allowedOn[0] + "'s agent (no EKS Auth call seen)"
	}
	return out + " via " + allowedOn[0] + "'s agent as " + role
}
