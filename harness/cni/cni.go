package cni

import (
	_ "embed"
	"fmt"
	"strings"
)

// Name is a pod network the lab knows.
type Name string

// The pod networks.
const (
	// Bridge is the offline node image's static bridge conflist
	// (harness/nodeimage CNIConfigPath): pods' veths on the bridge cni0.
	Bridge Name = "bridge"
	// PTP is the CNI ptp plugin: a veth per pod routed by the node, no
	// bridge; the lab mounts PTPConflist into every node ahead of the
	// image's own. Both node images carry the plugin.
	PTP Name = "ptp"
	// Kindnet is kind's default CNI, in kindest/node images only: kindnetd
	// writes a ptp conflist and routes between nodes.
	Kindnet Name = "kindnet"
)

// Names are the known pod networks, in the order help text lists them.
func Names() []Name { return []Name{Bridge, PTP, Kindnet} }

// Parse reads a pod network's name; "" is the empty Name, which Resolve
// turns into the node image's default.
func Parse(s string) (Name, error) {
	n := Name(strings.ToLower(strings.TrimSpace(s)))
	if n == "" {
		return "", nil
	}
	for _, k := range Names() {
		if n == k {
			return n, nil
		}
	}
	return "", fmt.Errorf("pod network %q: want one of %s", s, joinNames())
}

func joinNames() string {
	var out []string
	for _, n := range Names() {
		out = append(out, string(n))
	}
	return strings.Join(out, ", ")
}

// Resolve picks the pod network for a node image: requested when it can
// run there, the image's default when requested is "". hasKindnet says
// whether the image is kindest/node, which ships kindnetd and the ptp,
// host-local, loopback and portmap plugins but no bridge plugin (kind's
// images/base/Dockerfile); the offline image ships bridge and ptp but no
// kindnetd.
func Resolve(requested Name, hasKindnet bool) (Name, error) {
	switch {
	case requested == "" && hasKindnet:
		return Kindnet, nil
	case requested == "":
		return Bridge, nil
	case requested == Kindnet && !hasKindnet:
		return "", fmt.Errorf("pod network kindnet needs a kindest/node image (kindnetd is not in the offline node image): use ptp, which is what kindnet runs")
	case requested == Bridge && hasKindnet:
		return "", fmt.Errorf("pod network bridge needs the offline node image (kindest/node has no bridge plugin): use kindnet or ptp")
	}
	if _, err := Parse(string(requested)); err != nil {
		return "", err
	}
	return requested, nil
}

// PodInterface is the iptables interface match (-i) for the host ends of
// pods' interfaces, where pods' traffic enters the node: the bridge for
// Bridge, every veth (the wildcard veth+) for PTP and Kindnet, whose
// host-side veths are named veth<hex> (containernetworking/plugins
// pkg/ip/link_linux.go RandomVethName, commit 5883f0fc).
func (n Name) PodInterface() string {
	if n == Bridge {
		return "cni0"
	}
	return "veth+"
}

// DefaultCNI reports whether kind installs its default CNI (kindnet) for
// clusters on this network; for the others the kind config sets
// networking.disableDefaultCNI.
func (n Name) DefaultCNI() bool { return n == Kindnet }

//go:embed ptp.conflist
var ptpConflist []byte

// Conflist is the CNI configuration the lab mounts into every node for n
// and its file name in /etc/cni/net.d, which sorts before the offline
// image's 10-idlab-bridge.conflist: containerd loads the first file of the
// sorted directory (containerd/go-cni opts.go loadFromConfDir, commit
// 5d1202a8). Empty for networks that bring their own (Bridge, Kindnet).
func (n Name) Conflist() (name string, data []byte) {
	if n == PTP {
		return "05-idlab-ptp.conflist", append([]byte(nil), ptpConflist...)
	}
	return "", nil
}

// NodeLabel is the node label the lab gives every node with its pod
// network, so a reused cluster of another network is found and made anew.
const NodeLabel = "idlab.dev/pod-network"
