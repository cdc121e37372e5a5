package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Node is one node of a multi-node cluster as its pod network needs it:
// its name, its address on kind's network and the pod CIDR the
// controller manager gave it (node.spec.podCIDR).
type Node struct {
	Name    string
	IP      netip.Addr
	PodCIDR netip.Prefix
}

// ParseNode reads a node's InternalIP and spec.podCIDR: an IPv4 address
// and a masked IPv4 prefix (kind's clusters here are IPv4 only).
func ParseNode(name, ip, podCIDR string) (Node, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return Node{}, fmt.Errorf("node %s: address %q: want an IPv4 address", name, ip)
	}
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil || !p.Addr().Is4() || p != p.Masked() {
		return Node{}, fmt.Errorf("node %s: pod CIDR %q: want an IPv4 network (10.244.1.0/24)", name, podCIDR)
	}
	return Node{Name: name, IP: a, PodCIDR: p}, nil
}

// Route is one route a node needs to reach another node's pods.
type Route struct {
	Dst netip.Prefix // the other node's pod CIDR
	Via netip.Addr   // the other node's address
}

// Command is the ip(8) command that sets r, idempotent (replace).
func (r Route) Command() []string {
	return []string{"ip", "route", "replace", r.Dst.String(), "via", r.Via.String()}
}

// ErrOverlap means two nodes' pod CIDRs or addresses clash, so no route
// can tell their pods apart.
var ErrOverlap = errors.New("nodes overlap")

// Routes are the routes node self needs to every other node's pods: each
// other node's pod CIDR via that node's address, as kindnet routes
// between nodes (kindnetd's syncRoute adds netlink.Route{Dst: podCIDR,
// Gw: nodeIP} for every other node: kubernetes-sigs/kind
// images/kindnetd/cmd/kindnetd/routes.go at 0f1d6c1c). Routes come back
// sorted by node name, so the commands are stable;
// self must be one of nodes, and no two nodes may share an address or
// overlapping pod CIDRs.
func Routes(self string, nodes []Node) ([]Route, error) {
	if err := checkNodes(nodes); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(nodes, func(n Node) bool { return n.Name == self }) {
		return nil, fmt.Errorf("routes of node %s: not one of the cluster's nodes", self)
	}
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(a, b Node) int { return cmpString(a.Name, b.Name) })
	var out []Route
	for _, n := range sorted {
		if n.Name != self {
			out = append(out, Route{Dst: n.PodCIDR, Via: n.IP})
		}
	}
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// checkNodes refuses nodes no routing table can hold: an unnamed or
// duplicate node, a zero address or CIDR, two nodes at one address, or
// overlapping pod CIDRs.
func checkNodes(nodes []Node) error {
	for i, a := range nodes {
		if a.Name == "" || !a.IP.IsValid() || !a.PodCIDR.IsValid() {
			return fmt.Errorf("node %d (%q): needs a name, an address and a pod CIDR", i, a.Name)
		}
		for _, b := range nodes[:i] {
			switch {
			case a.Name == b.Name:
				return fmt.Errorf("node %s is listed twice", a.Name)
			case a.IP == b.IP:
				return fmt.Errorf("%w: nodes %s and %s share the address %s", ErrOverlap, b.Name, a.Name, a.IP)
			case a.PodCIDR.Overlaps(b.PodCIDR):
				return fmt.Errorf("%w: pod CIDRs %s (%s) and %s (%s)", ErrOverlap, b.PodCIDR, b.Name, a.PodCIDR, a.Name)
			}
		}
	}
	return nil
}

// KeepPodSourceRule is the nat POSTROUTING rule (chain first, for
// iptables -I) that lets traffic from this node's pods to another node's
// pods leave with the pod's own address: the conflists' ipMasq
// masquerades everything bound outside the node's pod CIDR, which would
// hide the sender from the pod it reaches, where Kubernetes' network model
// wants pods to see each other's addresses. kindnetd does the same ("kindnetd
// will ensure pod to pod communication will not be masquerade": its
// NewIPMasqAgent with the pod subnet, kubernetes-sigs/kind
// images/kindnetd/cmd/kindnetd/main.go at 128196ce). It goes first in the
// chain, before the plugins' per-pod rules.
func KeepPodSourceRule(local, remote netip.Prefix) []string {
	return []string{"POSTROUTING", "-s", local.String(), "-d", remote.String(),
		"-m", "comment", "--comment", "idlab: pod to pod across nodes keeps its source", "-j", "ACCEPT"}
}

// NodeConflist is base, a conflist whose first plugin allocates with
// host-local (the lab's bridge and ptp conflists), with that plugin's
// address ranges replaced by the node's pod CIDR alone: each node hands
// out addresses from its own CIDR, as kindnet's per-node conflist does.
// Everything else in base is kept.
func NodeConflist(base []byte, podCIDR netip.Prefix) ([]byte, error) {
	if !podCIDR.IsValid() || podCIDR != podCIDR.Masked() {
		return nil, fmt.Errorf("node conflist: pod CIDR %s is not a network", podCIDR)
	}
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, fmt.Errorf("node conflist: %w", err)
	}
	plugins, _ := doc["plugins"].([]any)
	if len(plugins) == 0 {
		return nil, errors.New("node conflist: no plugins")
	}
	first, _ := plugins[0].(map[string]any)
	ipam, _ := first["ipam"].(map[string]any)
	if ipam == nil || ipam["type"] != "host-local" {
		return nil, errors.New("node conflist: the first plugin does not allocate with host-local")
	}
	ipam["ranges"] = []any{[]any{map[string]any{"subnet": podCIDR.String()}}}
	delete(ipam, "subnet") // the single-range form, were base to use it
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
