package aadpodidentity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/idlab/idlab/internal/hostnat"
)

// RouteLocalnet is the sysctl that lets the node route pods' traffic to
// 127.0.0.1, where NMI listens: kube-proxy in iptables mode sets it on
// AKS's nodes as on kind's (its localhost node ports); NMI relies on it
// without setting it.
const RouteLocalnet = "/proc/sys/net/ipv4/conf/all/route_localnet"

// InstallChain runs ChainCommands on the node whose / is at hostRoot,
// with the node's iptables (see hostnat), and returns the commands it
// ran. It is the init container of NMI's DaemonSet: upstream's NMI does
// this itself every --ipt-update-interval-sec; the lab's does it once at
// start.
func InstallChain(ctx context.Context, env hostnat.Env, hostRoot, metadataIP, metadataPort, targetIP, targetPort string) ([][]string, error) {
	if err := hostnat.EnterRoot(env, hostRoot); err != nil {
		return nil, err
	}
	bin := ""
	for _, name := range []string{"iptables", "iptables-legacy", "iptables-nft"} {
		if bin = hostnat.Find(env, name); bin != "" {
			break
		}
	}
	if bin == "" {
		return nil, errors.New("no iptables on the host")
	}
	run := func(args ...string) ([]byte, error) {
		return env.Run(ctx, append([]string{bin, "-w", "-t", "nat"}, args...))
	}
	out, err := run("-S", Chain)
	exists := err == nil
	var listed []string
	if exists {
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				listed = append(listed, l)
			}
		}
	}
	_, jerr := run("-C", "PREROUTING", "-j", Chain)
	cmds := ChainCommands(listed, exists, jerr == nil, metadataIP, metadataPort, targetIP, targetPort)
	for _, c := range cmds {
		if out, err := run(c...); err != nil {
			return cmds, fmt.Errorf("%s -t nat %s: %w: %s", bin, strings.Join(c, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return cmds, nil
}
