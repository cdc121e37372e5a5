package hostlocal

import (
	"encoding/json"
	"net"
	"net/netip"
	"path"
	"testing"

	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/allocator"
	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/disk"
	"github.com/stretchr/testify/require"
)

// The tests here hold this package to host-local itself
// (github.com/containernetworking/plugins v1.7.1, whose host-local
// backend is the same as at commit 3d27709f): its configuration loader and
// its allocator over a data dir in a temporary directory.

// upstreamIPAM is host-local's reading of the host-local plugin of the CNI
// configuration file name: the plugin's configuration with the network's
// name and version put in, as libcni hands it to the plugin.
func upstreamIPAM(t *testing.T, name string, data []byte) (*allocator.IPAMConfig, error) {
	t.Helper()
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &top))
	plugin := data
	if path.Ext(name) == ".conflist" {
		var plugins []map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(top["plugins"], &plugins))
		for _, p := range plugins {
			var ipam struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(p["ipam"], &ipam) == nil && ipam.Type == "host-local" {
				p["name"], p["cniVersion"] = top["name"], top["cniVersion"]
				var err error
				plugin, err = json.Marshal(p)
				require.NoError(t, err)
				break
			}
		}
	}
	ipam, _, err := allocator.LoadIPAMConfig(plugin, "")
	return ipam, err
}

// upstreamRanges are host-local's canonical range sets in this package's
// terms.
func upstreamRanges(t *testing.T, ipam *allocator.IPAMConfig) [][]Range {
	t.Helper()
	addr := func(ip net.IP) netip.Addr {
		a, ok := netip.AddrFromSlice(ip)
		require.True(t, ok, "%v", ip)
		return a.Unmap()
	}
	var out [][]Range
	for _, set := range ipam.Ranges {
		var rs []Range
		for _, r := range set {
			ones, _ := r.Subnet.Mask.Size()
			rs = append(rs, Range{Subnet: netip.PrefixFrom(addr(r.Subnet.IP), ones), Start: addr(r.RangeStart), End: addr(r.RangeEnd), Gateway: addr(r.Gateway)})
		}
		out = append(out, rs)
	}
	return out
}

// hostLocal is host-local's allocator for range set id of the network in
// the CNI configuration file name, over its data dir.
func hostLocal(t *testing.T, name string, data []byte, id int) *allocator.IPAllocator {
	t.Helper()
	ipam, err := upstreamIPAM(t, name, data)
	require.NoError(t, err)
	store, err := disk.New(ipam.Name, ipam.DataDir)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	return allocator.NewIPAllocator(&ipam.Ranges[id], store, id)
}

// allocate is the address host-local hands container id.
func allocate(t *testing.T, a *allocator.IPAllocator, id string) netip.Addr {
	t.Helper()
	got, err := a.Get(id, "eth0", nil)
	require.NoError(t, err)
	addr, ok := netip.AddrFromSlice(got.Address.IP)
	require.True(t, ok)
	return addr.Unmap()
}
