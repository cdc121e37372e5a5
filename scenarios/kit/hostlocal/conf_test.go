package hostlocal

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/cni"
	"github.com/idlab/idlab/harness/nodeimage"
)

// kindnetConflist is kindnetd's configuration for a node of pod CIDR
// 10.244.0.0/24 (kubernetes-sigs/kind images/kindnetd/cmd/kindnetd/cni.go
// cniConfigTemplate, commit 26637e29).
const kindnetConflist = `{
	"cniVersion": "0.3.1",
	"name": "kindnet",
	"plugins": [
	{
		"type": "ptp",
		"ipMasq": false,
		"ipam": {
			"type": "host-local",
			"dataDir": "/run/cni-ipam-state",
			"routes": [{"dst": "0.0.0.0/0"}],
			"ranges": [[{"subnet": "10.244.0.0/24"}]]
		},
		"mtu": 1500
	},
	{"type": "portmap", "capabilities": {"portMappings": true}}
	]
}`

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestDefaultConfFile(t *testing.T) {
	tests := []struct {
		names  []string
		want   string
		wantOK bool
	}{
		{names: []string{"10-idlab-bridge.conflist"}, want: "10-idlab-bridge.conflist", wantOK: true},
		// The lab mounts ptp's conflist ahead of the image's bridge one.
		{names: []string{"10-idlab-bridge.conflist", "05-idlab-ptp.conflist"}, want: "05-idlab-ptp.conflist", wantOK: true},
		// kindnetd writes a .temp file and renames it (cni.go Write).
		{names: []string{"10-kindnet.conflist.temp", "10-kindnet.conflist"}, want: "10-kindnet.conflist", wantOK: true},
		{names: []string{"99-loopback.conf", "20-x.json"}, want: "20-x.json", wantOK: true},
		{names: []string{"README", "lock", "x.conflist.bak"}},
		{},
	}
	for _, tc := range tests {
		got, ok := DefaultConfFile(tc.names)
		require.Equal(t, tc.wantOK, ok, "%v", tc.names)
		require.Equal(t, tc.want, got, "%v", tc.names)
	}
}

// conf is a conflist of one ptp plugin whose ipam section is ipam.
func conf(ipam string) string {
	return `{"cniVersion": "0.4.0", "name": "n", "plugins": [{"type": "ptp", "ipam": ` + ipam + `}]}`
}

func TestParseConf(t *testing.T) {
	r24 := Range{Subnet: netip.MustParsePrefix("10.244.0.0/24"), Start: addr("10.244.0.1"), End: addr("10.244.0.254"), Gateway: addr("10.244.0.1")}
	_, ptp := cni.PTP.Conflist()
	tests := []struct {
		name, file, data string
		want             Network
		wantErr          string
		ours             bool // an error host-local's loader does not make (the network name is not its business)
	}{
		{name: "the offline image's bridge", file: "10-idlab-bridge.conflist", data: nodeimage.CNIConfig(),
			want: Network{Name: "idlab", DataDir: DefaultDataDir, RangeSets: [][]Range{{r24}}}},
		{name: "the lab's ptp", file: "05-idlab-ptp.conflist", data: string(ptp),
			want: Network{Name: "idlab-ptp", DataDir: DefaultDataDir, RangeSets: [][]Range{{r24}}}},
		{name: "kindnet's", file: "10-kindnet.conflist", data: kindnetConflist,
			want: Network{Name: "kindnet", DataDir: "/run/cni-ipam-state", RangeSets: [][]Range{{r24}}}},
		{name: "a single-plugin conf", file: "10-x.conf", data: `{"cniVersion": "0.4.0", "name": "x", "type": "bridge", "ipam": {"type": "host-local", "subnet": "10.1.0.0/16", "dataDir": "/d"}}`,
			want: Network{Name: "x", DataDir: "/d", RangeSets: [][]Range{{{Subnet: netip.MustParsePrefix("10.1.0.0/16"), Start: addr("10.1.0.1"), End: addr("10.1.255.254"), Gateway: addr("10.1.0.1")}}}}},
		{name: "old-style range first, then ranges", file: "x.conflist", data: conf(`{"type": "host-local", "subnet": "10.9.0.0/30", "ranges": [[{"subnet": "fd00::/120"}]]}`),
			want: Network{Name: "n", DataDir: DefaultDataDir, RangeSets: [][]Range{
				{{Subnet: netip.MustParsePrefix("10.9.0.0/30"), Start: addr("10.9.0.1"), End: addr("10.9.0.2"), Gateway: addr("10.9.0.1")}},
				{{Subnet: netip.MustParsePrefix("fd00::/120"), Start: addr("fd00::1"), End: addr("fd00::ff"), Gateway: addr("fd00::1")}},
			}}},
		{name: "start, end and gateway given", file: "x.conflist",
			data: conf(`{"type": "host-local", "ranges": [[{"subnet": "10.2.0.0/24", "rangeStart": "10.2.0.10", "rangeEnd": "10.2.0.20", "gateway": "10.2.0.254"}, {"subnet": "10.3.0.0/24", "rangeStart": "10.3.0.5"}]]}`),
			want: Network{Name: "n", DataDir: DefaultDataDir, RangeSets: [][]Range{{
				{Subnet: netip.MustParsePrefix("10.2.0.0/24"), Start: addr("10.2.0.10"), End: addr("10.2.0.20"), Gateway: addr("10.2.0.254")},
				{Subnet: netip.MustParsePrefix("10.3.0.0/24"), Start: addr("10.3.0.5"), End: addr("10.3.0.254"), Gateway: addr("10.3.0.1")},
			}}}},
		{name: "host-local in a later plugin", file: "x.conflist",
			data: `{"cniVersion": "0.4.0", "name": "n", "plugins": [{"type": "a"}, {"type": "b", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.4.0.0/24"}]]}}]}`,
			want: Network{Name: "n", DataDir: DefaultDataDir, RangeSets: [][]Range{{{Subnet: netip.MustParsePrefix("10.4.0.0/24"), Start: addr("10.4.0.1"), End: addr("10.4.0.254"), Gateway: addr("10.4.0.1")}}}}},

		{name: "another IPAM", file: "x.conflist", data: conf(`{"type": "calico-ipam"}`), wantErr: ErrNoHostLocal.Error()},
		{name: "a conflist read as a conf", file: "x.conf", data: nodeimage.CNIConfig(), wantErr: ErrNoHostLocal.Error()},
		{name: "not JSON", file: "x.conflist", data: `{"name": `, wantErr: "unexpected end of JSON input"},
		{name: "no ranges", file: "x.conflist", data: conf(`{"type": "host-local"}`), wantErr: "no IP ranges specified"},
		{name: "empty range set", file: "x.conflist", data: conf(`{"type": "host-local", "ranges": [[]]}`), wantErr: "empty range set"},
		{name: "host bits set", file: "x.conflist", data: conf(`{"type": "host-local", "ranges": [[{"subnet": "10.244.0.7/24"}]]}`), wantErr: "host bits set"},
		{name: "too small", file: "x.conflist", data: conf(`{"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/31"}]]}`), wantErr: "too small"},
		{name: "bad subnet", file: "x.conflist", data: conf(`{"type": "host-local", "ranges": [[{"subnet": "10.244.0.0"}]]}`), wantErr: "subnet"},
		{name: "start outside", file: "x.conflist", data: conf(`{"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/24", "rangeStart": "10.0.1.1"}]]}`), wantErr: "rangeStart 10.0.1.1 not in network"},
		{name: "end before start", file: "x.conflist", data: conf(`{"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/24", "rangeStart": "10.0.0.9", "rangeEnd": "10.0.0.8"}]]}`), wantErr: "rangeEnd"},
		{name: "mixed families", file: "x.conflist", data: conf(`{"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/24"}, {"subnet": "fd00::/64"}]]}`), wantErr: "mixed address families"},
		{name: "overlapping range sets", file: "x.conflist", data: conf(`{"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/24"}], [{"subnet": "10.0.0.128/25"}]]}`), wantErr: "overlaps with range set 0"},
		{name: "overlap", file: "x.conflist", data: conf(`{"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/24"}, {"subnet": "10.0.0.0/25"}]]}`), wantErr: "overlap"},
		{name: "a name that is a path", file: "x.conflist", data: strings.Replace(conf(`{"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/24"}]]}`), `"name": "n"`, `"name": "../etc"`, 1),
			wantErr: "cannot name a directory", ours: true},
		{name: "no name", file: "x.conflist", data: strings.Replace(conf(`{"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/24"}]]}`), `"name": "n", `, ``, 1),
			wantErr: "cannot name a directory", ours: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConf(tc.file, []byte(tc.data))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			}
			if tc.ours || !json.Valid([]byte(tc.data)) {
				return
			}
			// host-local reads the same configuration alike.
			ipam, uerr := upstreamIPAM(t, tc.file, []byte(tc.data))
			if tc.wantErr != "" {
				require.Error(t, uerr, "host-local refuses it too")
				return
			}
			require.NoError(t, uerr)
			require.Equal(t, got.Name, ipam.Name)
			require.Equal(t, got.RangeSets, upstreamRanges(t, ipam))
		})
	}
}

func FuzzParseConf(f *testing.F) {
	_, ptp := cni.PTP.Conflist()
	for _, s := range []string{nodeimage.CNIConfig(), string(ptp), kindnetConflist,
		conf(`{"type": "host-local", "subnet": "10.9.0.0/30", "ranges": [[{"subnet": "fd00::/120"}]]}`),
		conf(`{"type": "host-local", "ranges": [[{"subnet": "10.2.0.0/24", "rangeStart": "10.2.0.10", "rangeEnd": "10.2.0.20", "gateway": "10.2.0.254"}, {"subnet": "10.3.0.0/24"}]]}`),
		conf(`{"type": "host-local", "ranges": [[{"subnet": "::ffff:10.0.0.0/120"}]]}`),
	} {
		f.Add("x.conflist", s)
	}
	f.Add("x.conf", `{"name": "x", "type": "bridge", "ipam": {"type": "host-local", "subnet": "10.1.0.0/16"}}`)
	f.Fuzz(func(t *testing.T, file, data string) {
		n, err := ParseConf(file, []byte(data))
		if err != nil {
			return
		}
		require.NotEmpty(t, n.RangeSets)
		for _, set := range n.RangeSets {
			require.NotEmpty(t, set)
			for _, r := range set {
				require.True(t, r.Contains(r.Start) && r.Contains(r.End), "%+v", r)
				// Every address host-local hands out can be made next.
				for _, a := range []netip.Addr{r.Start, r.End} {
					if a == r.Gateway {
						continue
					}
					prev, _, err := n.Before(a)
					require.NoError(t, err, "%s in %+v", a, r)
					require.True(t, slicesContain(set, prev), "%s before %s lies in its range set", prev, a)
				}
			}
		}
	})
}

// slicesContain reports whether a lies in one of the ranges.
func slicesContain(set []Range, a netip.Addr) bool {
	for _, r := range set {
		if r.Contains(a) {
			return true
		}
	}
	return false
}
