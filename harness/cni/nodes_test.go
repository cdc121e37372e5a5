package cni

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/nodeimage"
)

func node(t *testing.T, name, ip, cidr string) Node {
	t.Helper()
	n, err := ParseNode(name, ip, cidr)
	require.NoError(t, err)
	return n
}

func TestParseNode(t *testing.T) {
	tests := []struct {
		name, ip, cidr, wantErr string
	}{
		{name: "ok", ip: "172.18.0.3", cidr: "10.244.1.0/24"},
		{name: "no ip", cidr: "10.244.1.0/24", wantErr: `address "": want an IPv4 address`},
		{name: "ipv6", ip: "fc00::3", cidr: "10.244.1.0/24", wantErr: "want an IPv4 address"},
		{name: "no cidr", ip: "172.18.0.3", wantErr: `pod CIDR "": want an IPv4 network`},
		{name: "host bits", ip: "172.18.0.3", cidr: "10.244.1.7/24", wantErr: "want an IPv4 network"},
		{name: "ipv6 cidr", ip: "172.18.0.3", cidr: "fd00:10:244::/64", wantErr: "want an IPv4 network"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseNode("eks-worker", tc.ip, tc.cidr)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.ErrorContains(t, err, "node eks-worker")
				return
			}
			require.NoError(t, err)
			require.Equal(t, Node{Name: "eks-worker", IP: netip.MustParseAddr(tc.ip), PodCIDR: netip.MustParsePrefix(tc.cidr)}, n)
		})
	}
}

// TestRoutes: each node routes every other node's pod CIDR via that
// node's address, never its own, in node-name order; nodes that clash
// are refused.
func TestRoutes(t *testing.T) {
	cp := node(t, "eks-control-plane", "172.18.0.2", "10.244.0.0/24")
	w1 := node(t, "eks-worker", "172.18.0.3", "10.244.1.0/24")
	w2 := node(t, "eks-worker2", "172.18.0.4", "10.244.2.0/24")
	r := func(cidr, via string) Route {
		return Route{Dst: netip.MustParsePrefix(cidr), Via: netip.MustParseAddr(via)}
	}
	tests := []struct {
		name    string
		self    string
		nodes   []Node
		want    []Route
		wantErr string
	}{
		{name: "one node", self: cp.Name, nodes: []Node{cp}},
		{name: "control plane of two", self: cp.Name, nodes: []Node{cp, w1}, want: []Route{r("10.244.1.0/24", "172.18.0.3")}},
		{name: "worker of two", self: w1.Name, nodes: []Node{cp, w1}, want: []Route{r("10.244.0.0/24", "172.18.0.2")}},
		{name: "three, listed out of order", self: w1.Name, nodes: []Node{w2, cp, w1},
			want: []Route{r("10.244.0.0/24", "172.18.0.2"), r("10.244.2.0/24", "172.18.0.4")}},
		{name: "not a node", self: "gke-worker", nodes: []Node{cp, w1}, wantErr: "not one of the cluster's nodes"},
		{name: "same cidr", self: cp.Name, nodes: []Node{cp, node(t, "x", "172.18.0.9", "10.244.0.0/24")}, wantErr: "pod CIDRs 10.244.0.0/24"},
		{name: "overlapping cidrs", self: cp.Name, nodes: []Node{cp, node(t, "x", "172.18.0.9", "10.244.0.0/16")}, wantErr: "nodes overlap"},
		{name: "same address", self: cp.Name, nodes: []Node{cp, node(t, "x", "172.18.0.2", "10.244.5.0/24")}, wantErr: "share the address 172.18.0.2"},
		{name: "twice", self: cp.Name, nodes: []Node{cp, cp}, wantErr: "listed twice"},
		{name: "zero node", self: cp.Name, nodes: []Node{cp, {Name: "x"}}, wantErr: "needs a name, an address and a pod CIDR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Routes(tc.self, tc.nodes)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	require.Equal(t, []string{"ip", "route", "replace", "10.244.1.0/24", "via", "172.18.0.3"}, r("10.244.1.0/24", "172.18.0.3").Command())
	require.Equal(t, []string{"POSTROUTING", "-s", "10.244.0.0/24", "-d", "10.244.1.0/24", "-m", "comment", "--comment",
		"idlab: pod to pod across nodes keeps its source", "-j", "ACCEPT"}, KeepPodSourceRule(cp.PodCIDR, w1.PodCIDR))
}

// TestNodeConflist: the lab's bridge and ptp conflists, given a node's
// pod CIDR, allocate from it alone and keep every other setting.
func TestNodeConflist(t *testing.T) {
	_, ptp := PTP.Conflist()
	cidr := netip.MustParsePrefix("10.244.3.0/24")
	for name, base := range map[string][]byte{"bridge": []byte(nodeimage.CNIConfig()), "ptp": ptp} {
		t.Run(name, func(t *testing.T) {
			got, err := NodeConflist(base, cidr)
			require.NoError(t, err)
			var want, have map[string]any
			require.NoError(t, json.Unmarshal(base, &want))
			require.NoError(t, json.Unmarshal(got, &have))
			ipam := want["plugins"].([]any)[0].(map[string]any)["ipam"].(map[string]any)
			require.Equal(t, []any{[]any{map[string]any{"subnet": "10.244.0.0/24"}}}, ipam["ranges"], "the base allocates from the first /24")
			ipam["ranges"] = []any{[]any{map[string]any{"subnet": "10.244.3.0/24"}}}
			require.Equal(t, want, have, "only the range changes")
		})
	}
	for _, tc := range []struct {
		name, base string
		cidr       netip.Prefix
		wantErr    string
	}{
		{name: "not json", base: "{", cidr: cidr, wantErr: "node conflist"},
		{name: "no plugins", base: `{"plugins": []}`, cidr: cidr, wantErr: "no plugins"},
		{name: "other ipam", base: `{"plugins": [{"type": "bridge", "ipam": {"type": "dhcp"}}]}`, cidr: cidr, wantErr: "host-local"},
		{name: "no ipam", base: `{"plugins": [{"type": "bridge"}]}`, cidr: cidr, wantErr: "host-local"},
		{name: "zero cidr", base: string(ptp), wantErr: "is not a network"},
		{name: "host bits", base: string(ptp), cidr: netip.MustParsePrefix("10.244.3.1/24"), wantErr: "is not a network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NodeConflist([]byte(tc.base), tc.cidr)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// FuzzNodeConflist: any base either fails or yields JSON whose first
// plugin allocates from the pod CIDR alone; never a panic.
func FuzzNodeConflist(f *testing.F) {
	_, ptp := PTP.Conflist()
	f.Add(ptp)
	f.Add([]byte(nodeimage.CNIConfig()))
	f.Add([]byte(`{"plugins": [{"ipam": {"type": "host-local", "subnet": "10.0.0.0/8"}}]}`))
	f.Add([]byte(`{"plugins": [1]}`))
	f.Add([]byte(`[]`))
	cidr := netip.MustParsePrefix("10.244.7.0/24")
	f.Fuzz(func(t *testing.T, base []byte) {
		got, err := NodeConflist(base, cidr)
		if err != nil {
			return
		}
		var doc struct {
			Plugins []struct {
				IPAM struct {
					Type   string              `json:"type"`
					Subnet string              `json:"subnet"`
					Ranges [][]json.RawMessage `json:"ranges"`
				} `json:"ipam"`
			} `json:"plugins"`
		}
		require.NoError(t, json.Unmarshal(got, &doc))
		require.Equal(t, "host-local", doc.Plugins[0].IPAM.Type)
		require.Empty(t, doc.Plugins[0].IPAM.Subnet)
		require.Len(t, doc.Plugins[0].IPAM.Ranges, 1)
		require.JSONEq(t, `{"subnet": "10.244.7.0/24"}`, string(doc.Plugins[0].IPAM.Ranges[0][0]))
	})
}
