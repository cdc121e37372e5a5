package harness

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/idlab/idlab/components/kube2iam"
	"github.com/idlab/idlab/harness/cni"
)

// TestIsKube2iamRule: DropKube2iamRule finds kube2iam's DNAT as
// `iptables -S` prints it on every pod network, and leaves the node's own
// instance metadata DNAT (nodeIMDSRules) and other rules alone.
func TestIsKube2iamRule(t *testing.T) {
	line := func(iface string) string {
		return "-A " + strings.Join(kube2iam.DNATRule(iface, "172.18.0.3", kube2iam.DefaultAppPort).Spec, " ")
	}
	tests := []struct {
		name, line string
		want       bool
	}{
		{name: "bridge", line: line(cni.Bridge.PodInterface()), want: true},
		{name: "ptp", line: line(cni.PTP.PodInterface()), want: true},
		{name: "kindnet", line: line(cni.Kindnet.PodInterface()), want: true},
		{name: "negated", line: line("!eth0"), want: true},
		{name: "node imds for pods", line: "-A " + strings.Join(nodeIMDSRules("172.18.0.2", 18100, 18101)[1], " ")},
		{name: "node imds for the node", line: "-A " + strings.Join(nodeIMDSRules("172.18.0.2", 18100, 18101)[0], " ")},
		{name: "other port", line: strings.Replace(line("cni0"), fmt.Sprintf(":%d", kube2iam.DefaultAppPort), ":18181", 1)},
		{name: "other address", line: strings.Replace(line("cni0"), "169.254.169.254/32", "169.254.170.23/32", 1)},
		{name: "chain policy", line: "-P PREROUTING ACCEPT"},
		{name: "kube-proxy", line: "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, isKube2iamRule(strings.Fields(tc.line)), tc.line)
		})
	}
}

// TestKube2iamFollowsThePodNetwork: the DaemonSet's proxy and its iptables
// init container get the pod network's interface as --host-interface.
func TestKube2iamFollowsThePodNetwork(t *testing.T) {
	c := DefaultCluster("eks")
	for _, net := range cni.Names() {
		t.Run(string(net), func(t *testing.T) {
			opts, err := kube2iamOptions(c, net.PodInterface(), "ca")
			require.NoError(t, err)
			var ds *appsv1.DaemonSet
			for _, obj := range kube2iam.Manifests("idlab:x", SystemNamespace, opts) {
				if d, ok := obj.(*appsv1.DaemonSet); ok {
					ds = d
				}
			}
			require.NotNil(t, ds)
			want := "--host-interface=" + net.PodInterface()
			var saw []string
			for _, ctr := range append(ds.Spec.Template.Spec.InitContainers, ds.Spec.Template.Spec.Containers...) {
				for _, a := range append(ctr.Command, ctr.Args...) {
					if strings.HasPrefix(a, "--host-interface=") {
						saw = append(saw, ctr.Name+" "+a)
					}
				}
			}
			require.NotEmpty(t, saw)
			for _, s := range saw {
				require.True(t, strings.HasSuffix(s, " "+want), s)
			}
		})
	}
	_, err := kube2iamOptions(c, "", "ca")
	require.ErrorContains(t, err, "no --host-interface")
}
