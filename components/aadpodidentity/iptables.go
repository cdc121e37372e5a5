package aadpodidentity

import "net"

// Chain is the nat chain NMI keeps (upstream pkg/nmi/iptables/iptables.go).
const Chain = "aad-metadata"

// ChainRules are the rules of Chain as `iptables -t nat -S aad-metadata`
// lists them, which upstream's ensureCustomChain compares against before
// it flushes and rewrites the chain: TCP to metadataIP:metadataPort not
// from 127.0.0.1 goes to NMI at targetIP:targetPort, the rest returns. The
// chain is jumped to from the top of nat PREROUTING only, so the node's
// own processes and hostNetwork pods (nat OUTPUT) are never redirected.
func ChainRules(metadataIP, metadataPort, targetIP, targetPort string) []string {
	return []string{
		"-N " + Chain,
		"-A " + Chain + " ! -s 127.0.0.1/32 -d " + metadataIP + "/32 -p tcp -m tcp --dport " + metadataPort +
			" -j DNAT --to-destination " + net.JoinHostPort(targetIP, targetPort),
		"-A " + Chain + " -j RETURN",
	}
}

// JumpRule is the rule upstream inserts at position 1 of nat PREROUTING.
func JumpRule() []string { return []string{"PREROUTING", "-j", Chain} }
