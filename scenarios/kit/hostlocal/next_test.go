package hostlocal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// network is a conflist of network n with host-local state under dataDir
// and the given range sets (JSON).
func network(dataDir, ranges string) string {
	return `{"cniVersion": "0.4.0", "name": "n", "plugins": [{"type": "ptp", "ipam": {"type": "host-local", "dataDir": "` + dataDir + `", "ranges": ` + ranges + `}}]}`
}

func TestPaths(t *testing.T) {
	n, err := ParseConf("10-kindnet.conflist", []byte(kindnetConflist))
	require.NoError(t, err)
	require.Equal(t, "/run/cni-ipam-state/kindnet", n.Dir())
	require.Equal(t, "/run/cni-ipam-state/kindnet/last_reserved_ip.0", n.LastReservedFile(0))
	require.Equal(t, "/run/cni-ipam-state/kindnet/last_reserved_ip.1", n.LastReservedFile(1))
	require.Equal(t, "/run/cni-ipam-state/kindnet/10.244.0.7", n.ReservationFile(addr("10.244.0.7")))
	require.Equal(t, "/run/cni-ipam-state/kindnet/10.244.0.7", n.ReservationFile(addr("::ffff:10.244.0.7")))
}

// TestBefore: the address written makes the wanted one next, in this
// package's arithmetic and in host-local's own allocator over a data dir
// holding exactly that last_reserved_ip file.
func TestBefore(t *testing.T) {
	const (
		one      = `[[{"subnet": "10.244.0.0/24"}]]`
		twoSets  = `[[{"subnet": "10.244.0.0/24"}], [{"subnet": "fd00:10:244::/64"}]]`
		started  = `[[{"subnet": "10.5.0.0/24", "rangeStart": "10.5.0.100", "rangeEnd": "10.5.0.110"}]]`
		twoInSet = `[[{"subnet": "10.6.0.0/24", "rangeStart": "10.6.0.10", "rangeEnd": "10.6.0.12"}, {"subnet": "10.7.0.0/24", "rangeStart": "10.7.0.20", "rangeEnd": "10.7.0.22"}]]`
		lone     = `[[{"subnet": "10.8.0.0/24", "rangeStart": "10.8.0.9", "rangeEnd": "10.8.0.9"}]]`
	)
	tests := []struct {
		name, ranges, addr string
		wantPrev           string
		wantID             int
		wantErr            string
	}{
		{name: "in the middle", ranges: one, addr: "10.244.0.7", wantPrev: "10.244.0.6"},
		{name: "right after the gateway", ranges: one, addr: "10.244.0.2", wantPrev: "10.244.0.1"},
		{name: "the range's end", ranges: one, addr: "10.244.0.254", wantPrev: "10.244.0.253"},
		{name: "the second range set", ranges: twoSets, addr: "fd00:10:244::7", wantPrev: "fd00:10:244::6", wantID: 1},
		{name: "an IPv4-mapped address", ranges: one, addr: "::ffff:10.244.0.7", wantPrev: "10.244.0.6"},
		{name: "the start of the only range wraps to its end", ranges: started, addr: "10.5.0.100", wantPrev: "10.5.0.110"},
		{name: "the start of a later range follows the end of the one before", ranges: twoInSet, addr: "10.7.0.20", wantPrev: "10.6.0.12"},
		{name: "the start of the first range follows the end of the last", ranges: twoInSet, addr: "10.6.0.10", wantPrev: "10.7.0.22"},
		{name: "a one-address range", ranges: lone, addr: "10.8.0.9", wantPrev: "10.8.0.9"},
		{name: "the gateway", ranges: one, addr: "10.244.0.1", wantErr: "is the gateway of 10.244.0.0/24"},
		{name: "outside the range", ranges: started, addr: "10.5.0.99", wantErr: "in no range of network n"},
		{name: "the broadcast address", ranges: one, addr: "10.244.0.255", wantErr: "in no range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			data := []byte(network(dataDir, tc.ranges))
			n, err := ParseConf("x.conflist", data)
			require.NoError(t, err)
			prev, id, err := n.Before(addr(tc.addr))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, addr(tc.wantPrev), prev)
			require.Equal(t, tc.wantID, id)

			// host-local hands out the address next.
			a := hostLocal(t, "x.conflist", data, id)
			require.NoError(t, os.WriteFile(n.LastReservedFile(id), []byte(prev.String()), 0o600))
			require.Equal(t, addr(tc.addr).Unmap(), allocate(t, a, "new"))
		})
	}
}

// TestBeforeCanFail: host-local takes the file's content as it is, so the
// address before must be written without a newline and be exactly the
// one before: a newline or the wanted address itself hands out another.
func TestBeforeCanFail(t *testing.T) {
	dataDir := t.TempDir()
	data := []byte(network(dataDir, `[[{"subnet": "10.244.0.0/24"}]]`))
	n, err := ParseConf("x.conflist", data)
	require.NoError(t, err)
	want := addr("10.244.0.7")
	prev, id, err := n.Before(want)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, content, got string
	}{
		{name: "a trailing newline: host-local starts over at the range's start", content: prev.String() + "\n", got: "10.244.0.2"},
		{name: "the address itself: host-local hands out the one after", content: want.String(), got: "10.244.0.8"},
		{name: "as Before says", content: prev.String(), got: want.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := hostLocal(t, "x.conflist", data, id)
			require.NoError(t, os.WriteFile(n.LastReservedFile(id), []byte(tc.content), 0o600))
			got := allocate(t, a, strings.ReplaceAll(tc.name, " ", "-"))
			require.Equal(t, addr(tc.got), got)
			require.NoError(t, a.Release(strings.ReplaceAll(tc.name, " ", "-"), "eth0"))
		})
	}
	// A reserved address is passed over: hence Steer waits for the release.
	a := hostLocal(t, "x.conflist", data, id)
	require.NoError(t, os.WriteFile(n.LastReservedFile(id), []byte(addr("10.244.0.6").String()), 0o600))
	require.Equal(t, want, allocate(t, a, "old"))
	require.NoError(t, os.WriteFile(n.LastReservedFile(id), []byte(prev.String()), 0o600))
	require.Equal(t, addr("10.244.0.8"), allocate(t, a, "new"), "the old pod still holds %s", want)
	require.FileExists(t, filepath.Join(n.Dir(), want.String()))
	require.Equal(t, filepath.Join(n.Dir(), want.String()), n.ReservationFile(want))
}
