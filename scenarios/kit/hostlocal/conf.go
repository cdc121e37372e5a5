package hostlocal

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
)

// ConfDir is where the node's container runtime reads its CNI
// configuration (containerd's default, kind's nodes').
const ConfDir = "/etc/cni/net.d"

// DefaultDataDir is host-local's data dir when ipam.dataDir names none
// (disk/backend.go defaultDataDir).
const DefaultDataDir = "/var/lib/cni/networks"

// ErrNoHostLocal means the node's CNI configuration allocates addresses
// with another IPAM than host-local, whose state this package cannot steer.
var ErrNoHostLocal = errors.New("no host-local IPAM in the CNI configuration")

// Range is one canonical range of a range set, as host-local fills it in
// (allocator/range.go Canonicalize): Start and End inclusive, Gateway
// never handed out.
type Range struct {
	Subnet              netip.Prefix
	Start, End, Gateway netip.Addr
}

// Contains reports whether a lies in r (host-local's Range.Contains).
func (r Range) Contains(a netip.Addr) bool {
	a = a.Unmap()
	return r.Subnet.Contains(a) && r.Start.Compare(a) <= 0 && a.Compare(r.End) <= 0
}

// Network is the host-local state of a CNI network on a node: its name,
// its data dir and its range sets, in ipam.ranges order (the N of
// last_reserved_ip.N).
type Network struct {
	Name, DataDir string
	RangeSets     [][]Range
}

// DefaultConfFile is the configuration containerd loads from a directory
// holding names: the first in sorted order with the extension .conf,
// .conflist or .json (go-cni loadFromConfDir).
func DefaultConfFile(names []string) (string, bool) {
	var confs []string
	for _, n := range names {
		switch path.Ext(n) {
		case ".conf", ".conflist", ".json":
			confs = append(confs, n)
		}
	}
	if len(confs) == 0 {
		return "", false
	}
	slices.Sort(confs)
	return confs[0], true
}

type rangeJSON struct {
	Subnet     string `json:"subnet"`
	RangeStart string `json:"rangeStart"`
	RangeEnd   string `json:"rangeEnd"`
	Gateway    string `json:"gateway"`
}

// ipamJSON is host-local's ipam section; the embedded range is the
// old-style single range, which host-local puts first among the range
// sets when it has a subnet (allocator/config.go LoadIPAMConfig).
type ipamJSON struct {
	rangeJSON
	Type    string        `json:"type"`
	DataDir string        `json:"dataDir"`
	Ranges  [][]rangeJSON `json:"ranges"`
}

type pluginJSON struct {
	Type string    `json:"type"`
	IPAM *ipamJSON `json:"ipam"`
}

// confJSON reads a conflist (plugins) and a single-plugin conf (its
// fields at the top) alike.
type confJSON struct {
	pluginJSON
	Name    string       `json:"name"`
	Plugins []pluginJSON `json:"plugins"`
}

// ParseConf reads the host-local state a CNI configuration file implies:
// the first plugin whose ipam type is host-local, under the network's
// name. name is the file's name: a .conflist holds plugins, any other a
// single plugin.
func ParseConf(name string, data []byte) (Network, error) {
	var c confJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return Network{}, fmt.Errorf("CNI configuration %s: %w", name, err)
	}
	plugins := c.Plugins
	if path.Ext(name) != ".conflist" {
		plugins = []pluginJSON{c.pluginJSON}
	}
	i := slices.IndexFunc(plugins, func(p pluginJSON) bool { return p.IPAM != nil && p.IPAM.Type == "host-local" })
	if i < 0 {
		return Network{}, fmt.Errorf("CNI configuration %s: %w", name, ErrNoHostLocal)
	}
	if c.Name == "" || strings.ContainsAny(c.Name, "/\x00") || c.Name == "." || c.Name == ".." {
		return Network{}, fmt.Errorf("CNI configuration %s: network name %q cannot name a directory", name, c.Name)
	}
	ipam := plugins[i].IPAM
	n := Network{Name: c.Name, DataDir: ipam.DataDir}
	if n.DataDir == "" {
		n.DataDir = DefaultDataDir
	}
	sets := ipam.Ranges
	if ipam.Subnet != "" {
		sets = append([][]rangeJSON{{ipam.rangeJSON}}, sets...)
	}
	if len(sets) == 0 {
		return Network{}, fmt.Errorf("CNI configuration %s: no IP ranges specified", name)
	}
	for i, s := range sets {
		set, err := rangeSet(s)
		if err != nil {
			return Network{}, fmt.Errorf("CNI configuration %s: range set %d: %w", name, i, err)
		}
		for j, other := range n.RangeSets {
			if overlap(set, other) {
				return Network{}, fmt.Errorf("CNI configuration %s: range set %d overlaps with range set %d", name, i, j)
			}
		}
		n.RangeSets = append(n.RangeSets, set)
	}
	return n, nil
}

// rangeSet canonicalizes one range set as host-local's
// RangeSet.Canonicalize: not empty, one address family, no overlap.
func rangeSet(s []rangeJSON) ([]Range, error) {
	if len(s) == 0 {
		return nil, errors.New("empty range set")
	}
	out := make([]Range, 0, len(s))
	for _, rj := range s {
		r, err := canonical(rj)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && out[0].Start.Is4() != r.Start.Is4() {
			return nil, errors.New("mixed address families")
		}
		for _, o := range out {
			if overlap([]Range{o}, []Range{r}) {
				return nil, fmt.Errorf("subnets %s-%s and %s-%s overlap", o.Start, o.End, r.Start, r.End)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// overlap reports whether a range of a and one of b share an address
// (host-local's Range.Overlaps).
func overlap(a, b []Range) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Contains(y.Start) || x.Contains(y.End) || y.Contains(x.Start) || y.Contains(x.End) {
				return true
			}
		}
	}
	return false
}

// canonical fills in a range as host-local's Range.Canonicalize: the
// subnet a network address with room for two hosts, the gateway and start
// by default the subnet's first address, the end its last (for IPv4 the
// one before the broadcast address), start and end inside the subnet.
func canonical(rj rangeJSON) (Range, error) {
	p, err := netip.ParsePrefix(rj.Subnet)
	if err != nil {
		return Range{}, fmt.Errorf("subnet %q: %w", rj.Subnet, err)
	}
	if p.Addr().Is4In6() {
		return Range{}, fmt.Errorf("subnet %s: an IPv4-mapped IPv6 subnet", p)
	}
	if p.Bits() > p.Addr().BitLen()-2 {
		return Range{}, fmt.Errorf("network %s too small to allocate from", p)
	}
	if p.Masked() != p {
		return Range{}, fmt.Errorf("network %s has host bits set: the network address is %s", p, p.Masked().Addr())
	}
	first := p.Addr().Next()
	r := Range{Subnet: p, Start: first, End: lastIP(p), Gateway: first}
	for _, f := range []struct {
		name, text string
		into       *netip.Addr
		inSubnet   bool
	}{{"gateway", rj.Gateway, &r.Gateway, false}, {"rangeStart", rj.RangeStart, &r.Start, true}, {"rangeEnd", rj.RangeEnd, &r.End, true}} {
		if f.text == "" {
			continue
		}
		a, err := netip.ParseAddr(f.text)
		if err != nil {
			return Range{}, fmt.Errorf("%s %q: %w", f.name, f.text, err)
		}
		a = a.Unmap()
		if f.inSubnet && !p.Contains(a) {
			return Range{}, fmt.Errorf("%s %s not in network %s", f.name, a, p)
		}
		*f.into = a
	}
	if r.End.Less(r.Start) {
		return Range{}, fmt.Errorf("rangeEnd %s before rangeStart %s", r.End, r.Start)
	}
	return r, nil
}

// lastIP is the subnet's last address, less the broadcast for IPv4.
func lastIP(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		hostBits := max(0, min(8, (i+1)*8-p.Bits()))
		b[i] |= byte(1<<hostBits - 1)
	}
	a, _ := netip.AddrFromSlice(b)
	if a.Is4() {
		a = a.Prev()
	}
	return a
}
