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

// ChainCommands is upstream's AddCustomChain (pkg/nmi/iptables/
// iptables.go ensureCustomChain and placeCustomChainInChain, e4e7eab) as
// the iptables commands to run, given what `iptables -t nat -S
// aad-metadata` listed (listed is nil when the chain does not exist) and
// whether `-C PREROUTING -j aad-metadata` found the jump: create the
// chain when missing; flush and rewrite it unless its rules are exactly
// ChainRules; insert the jump at position 1 of PREROUTING when missing.
// Every command is the arguments after `iptables -w -t nat`.
func ChainCommands(listed []string, exists, jump bool, metadataIP, metadataPort, targetIP, targetPort string) [][]string {
	var cmds [][]string
	want := ChainRules(metadataIP, metadataPort, targetIP, targetPort)
	if !exists {
		cmds = append(cmds, []string{"-N", Chain})
	}
	match := 0
	for _, l := range listed {
		if !slicesContains(want, l) {
			break
		}
		match++
	}
	if !exists || match != len(want) {
		cmds = append(cmds,
			[]string{"-F", Chain},
			[]string{"-A", Chain, "-p", "tcp", "!", "-s", "127.0.0.1/32", "-d", metadataIP, "--dport", metadataPort, "-j", "DNAT", "--to-destination", net.JoinHostPort(targetIP, targetPort)},
			[]string{"-A", Chain, "-j", "RETURN"})
	}
	if !jump {
		cmds = append(cmds, []string{"-I", "PREROUTING", "1", "-j", Chain})
	}
	return cmds
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
