package gkemetadata

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/idlab/idlab/internal/hostnat"
)

// MetadataIP is the address pods send metadata requests to.
const MetadataIP = "169.254.169.254"

// InstallDNAT makes the node send pods' metadata traffic
// (169.254.169.254:80) to the metadata server at nodeIP:port, as GKE's
// node setup does: it chroots into the host filesystem mounted at hostRoot
// ("" or "/" for none; the chroot is process-wide, so this is for a
// one-shot command such as the DaemonSet's init container) and runs the
// host's iptables (iptables, else iptables-legacy or iptables-nft; see
// internal/hostnat):
//
//	iptables -w -t nat -C PREROUTING -d 169.254.169.254/32 -p tcp --dport 80 -j DNAT --to-destination NODE_IP:PORT
//
// and, when that check finds no rule, the same with -I; then the same in the
// OUTPUT chain, for hostNetwork pods. Running it again changes nothing.
func InstallDNAT(ctx context.Context, hostRoot, nodeIP string, port int) error {
	return installDNAT(ctx, hostnat.OSEnv(), hostRoot, nodeIP, port)
}

// dnatRule is the rule's specification after the chain.
func dnatRule(nodeIP string, port int) []string {
	return []string{"-d", MetadataIP + "/32", "-p", "tcp", "--dport", "80",
		"-j", "DNAT", "--to-destination", net.JoinHostPort(nodeIP, strconv.Itoa(port))}
}

func installDNAT(ctx context.Context, env hostnat.Env, hostRoot, nodeIP string, port int) error {
	ip := net.ParseIP(nodeIP)
	if ip == nil || ip.To4() == nil {
		return fmt.Errorf("install dnat: node IP %q: want an IPv4 address", nodeIP)
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("install dnat: port %d out of range", port)
	}
	// PREROUTING catches pods' traffic; OUTPUT the node's own processes,
	// hostNetwork pods among them, which get the node's identity.
	if err := hostnat.Insert(ctx, env, hostRoot,
		hostnat.Rule{Chain: "PREROUTING", Spec: dnatRule(nodeIP, port)}, hostnat.Rule{Chain: "OUTPUT", Spec: dnatRule(nodeIP, port)}); err != nil {
		return fmt.Errorf("install dnat: %w", err)
	}
	return nil
}
