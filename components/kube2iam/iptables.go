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
// hostInterface goes to the proxy at hostIP:appPort. As upstream's
// --host-interface (jtblin/kube2iam iptables/iptables.go AddRule, commit
// 54530d0c, and its README's list per network: cni0 for a CNI bridge,
// cali+ for Calico, eni+ for the AWS VPC CNI, !eth0 ...), hostInterface
// is an iptables interface name: a trailing + matches every interface
// with that prefix (veth+ for ptp and kindnet), and a leading ! matches
// every interface but that one.
func DNATRule(hostInterface, hostIP string, appPort int) hostnat.Rule {
	spec := []string{"-p", "tcp", "-d", DefaultMetadataAddress + "/32", "--dport", "80"}
	if name, ok := strings.CutPrefix(hostInterface, "!"); ok {
		spec = append(spec, "!", "-i", name)
	} else {
		spec = append(spec, "-i", hostInterface)
	}
	return hostnat.Rule{Chain: "PREROUTING", Spec: append(spec, "-j", "DNAT", "--to-destination", net.JoinHostPort(hostIP, strconv.Itoa(appPort)))}
}

// AddIPTablesRule installs DNATRule in the node's nat table through the
// host's root at hostRoot (see hostnat). Upstream appends the rule, as on
// EC2 nothing else claims 169.254.169.254; in the lab the node's own
// instance metadata is itself a DNAT appended to PREROUTING, so the proxy's
// rule is inserted before it. The interface must exist unless it is a
// wildcard (holding a +), as upstream checks; a negated one (!eth0) is
// checked without its !.
func AddIPTablesRule(ctx context.Context, hostRoot, hostInterface, hostIP string, appPort int) error {
	if hostIP == "" || net.ParseIP(hostIP) == nil {
		return errors.New("--host-ip must be set")
	}
	if err := checkInterface(hostInterface, net.InterfaceByName); err != nil {
		return err
	}
	return hostnat.Insert(ctx, hostnat.OSEnv(), hostRoot, DNATRule(hostInterface, hostIP, appPort))
}

// checkInterface fails for a --host-interface naming an interface this
// host does not have; wildcards (holding a +) are not checked.
func checkInterface(hostInterface string, byName func(string) (*net.Interface, error)) error {
	name := strings.TrimPrefix(hostInterface, "!")
	if name == "" {
		return errors.New("--host-interface must be set")
	}
	if strings.Contains(name, "+") {
		return nil
	}
	if _, err := byName(name); err != nil {
		return fmt.Errorf("host interface %s: %w", hostInterface, err)
	}
	return nil
}
