package kube2iam

import (
	"fmt"
	"strings"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// The multi-node rows' outcomes, as the matrix shows them (multinode_test.go).
const (
	// crossNodeDenied: node 2's kube2iam refused a caller that is no pod
	// of its node, as upstream's mapper does for an unknown IP
	// (components/kube2iam: "pod with specificed IP ... not found").
	crossNodeDenied = "deny: 404 from the other node's kube2iam (no pod of its node has the caller's IP)"
)

// viaNode is what a pod got from kube2iam: its assumed role (or its error
// code), the node whose kube2iam decided and, when stsRole is given, the
// node role STS saw assume it (a kube2iam that had the role's session
// cached asks STS nothing, so the test of the test passes "").
func viaNode(res probe.Result, decidedOn []string, stsRole string) string {
	out := gotRole(res)
	if len(decidedOn) != 1 {
		return fmt.Sprintf("%s (kube2iam decided on %d nodes: %v)", out, len(decidedOn), decidedOn)
	}
	out += " via " + decidedOn[0] + "'s kube2iam"
	if stsRole != "" {
		out += " as " + stsRole
	}
	return out
}

// crossNodeObserved is what a pod saw asking another node's kube2iam: the
// row holds only when the pod got nothing (the probe's own GET of the role
// list answered 404) and that kube2iam logged its 404 for the caller, whose
// address is the pod's or, masqueraded on the way to a node address, its
// node's. Anything else is shown as it was.
func crossNodeObserved(res probe.Result, ds []decision, callers ...string) string {
	if res.OK {
		return gotRole(res)
	}
	for _, d := range ds {
		for _, c := range callers {
			if d.RemoteIP == c && d.Decision == "Deny" && d.Status == 404 && strings.HasPrefix(d.Reason, "no pod with IP ") &&
				strings.HasPrefix(res.Output, "404 ") {
				return crossNodeDenied
			}
		}
	}
	return fmt.Sprintf("not allow (%s; raw answer %q; %d decisions of that kube2iam about the caller)", res.ErrorCode, res.Output, len(ds))
}

// gotRole is "allow: ROLE" with the role of the probe's assumed-role ARN,
// or its error code.
func gotRole(res probe.Result) string {
	if !res.OK {
		if res.ErrorCode == "" {
			return "not allow (no error code)"
		}
		return res.ErrorCode
	}
	_, rest, _ := strings.Cut(res.Arn, ":assumed-role/")
	name, _, _ := strings.Cut(rest, "/")
	return "allow: " + name
}
