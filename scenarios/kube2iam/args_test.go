package kube2iam

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/components/kube2iam"
)

// defaultRoleFlag is kube2iam's --default-role, as components/kube2iam
// writes it into the DaemonSet.
const defaultRoleFlag = "--default-role="

// withDefaultRole is args without any --default-role, then with role's
// when role is not empty.
func withDefaultRole(args []string, role string) []string {
	out := slices.DeleteFunc(slices.Clone(args), func(a string) bool { return strings.HasPrefix(a, defaultRoleFlag) })
	if role != "" {
		out = append(out, defaultRoleFlag+role)
	}
	return out
}

// TestWithDefaultRole: the suite adds the flag to the lab's arguments and
// takes it out again, leaving them as the lab deployed them.
func TestWithDefaultRole(t *testing.T) {
	lab := kube2iam.Args(kube2iam.ManifestOptions{HostInterface: "cni0", BaseRoleARN: "arn:aws:iam::123456789012:role/", NamespaceRestriction: true})
	with := withDefaultRole(lab, "kube2iam-default")
	require.Equal(t, append(slices.Clone(lab), "--default-role=kube2iam-default"), with)
	require.ElementsMatch(t, kube2iam.Args(kube2iam.ManifestOptions{HostInterface: "cni0", BaseRoleARN: "arn:aws:iam::123456789012:role/",
		NamespaceRestriction: true, DefaultRole: "kube2iam-default"}), with, "the flags the manifests would write")
	require.Equal(t, lab, withDefaultRole(with, ""))
	require.Equal(t, with, withDefaultRole(withDefaultRole(with, "other"), "kube2iam-default"), "replaced, not added twice")
	require.Equal(t, lab, withDefaultRole(lab, ""), "nothing to take out")
}
