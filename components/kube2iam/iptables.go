package kube2iam

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/idlab/idlab/internal/hostnat"
)

// DNATRule is --iptables' rule: pods' metadata traffic entering the node on
// hostInterface goes to the proxy at hostIP:appPort.
func DNATRule(hostInterface, hostIP string, appPort int) hostnat.Rule {
	return hostnat.Rule{Chain: "PREROUTING", Spec: []string{"-p", "tcp", "-d", DefaultMetadataAddress + "/32", "--dport", "80",
		"-i", hostInterface, "-j", "DNAT", "--to-destination", net.JoinHostPort(hostIP, strconv.Itoa(appPort))}}
}

// AddIPTablesRule installs DNATRule in the node's nat table through the
// host's root at hostRoot (see hostnat). Upstream appends the rule, as on
// EC2 nothing else claims 169.254.169.254; in the lab the node's own
// instance metadata is itself a DNAT appended to PREROUTING, so the proxy's
// rule is inserted before it. The interface must exist unless it is a
// wildcard (ending in +), as upstream checks.
func AddIPTablesRule(ctx context.Context, hostRoot, hostInterface, hostIP string, appPort int) error {
	if hostIP == "" || net.ParseIP(hostIP) == nil {
		return errors.New("--host-ip must be set")
	}
	if !strings.Contains(hostInterface, "+") {
		if _, err := net.InterfaceByName(hostInterface); err != nil {
			return fmt.Errorf("host interface %s: %w", hostInterface, err)
		}
	}
	return hostnat.Insert(ctx, hostnat.OSEnv(), hostRoot, DNATRule(hostInterface, hostIP, appPort))
}
