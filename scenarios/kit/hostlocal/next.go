package hostlocal

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
)

// LastReservedPrefix starts the name of the file holding a range set's
// last handed-out address; the range set's index follows
// (disk/backend.go lastIPFilePrefix).
const LastReservedPrefix = "last_reserved_ip."

// Dir is the network's state directory on the node: one file per reserved
// address, the last_reserved_ip files and a lock.
func (n Network) Dir() string { return path.Join(n.DataDir, n.Name) }

// LastReservedFile is where host-local keeps range set rangeID's last
// handed-out address, as text without a newline.
func (n Network) LastReservedFile(rangeID int) string {
	return path.Join(n.Dir(), LastReservedPrefix+strconv.Itoa(rangeID))
}

// ReservationFile is the file that exists while a is reserved: named by
// the address, holding the container ID and interface.
func (n Network) ReservationFile(a netip.Addr) string {
	return path.Join(n.Dir(), a.Unmap().String())
}

// Before is what to write into LastReservedFile(rangeID) so that a is the
// next address host-local tries: the address before a in its range set's
// round-robin order, which for a range's start is the end of the range
// before it (the last range's end for the first range's start: the
// iterator wraps). host-local never hands out a gateway, so a gateway
// cannot be made next.
func (n Network) Before(a netip.Addr) (prev netip.Addr, rangeID int, err error) {
	a = a.Unmap()
	for id, set := range n.RangeSets {
		for i, r := range set {
			if !r.Contains(a) {
				continue
			}
			if a == r.Gateway {
				return netip.Addr{}, 0, fmt.Errorf("%s is the gateway of %s, which host-local never hands out", a, r.Subnet)
			}
			if a == r.Start {
				return set[(i+len(set)-1)%len(set)].End, id, nil
			}
			return a.Prev(), id, nil
		}
	}
	return netip.Addr{}, 0, fmt.Errorf("%s is in no range of network %s", a, n.Name)
}
