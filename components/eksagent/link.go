package eksagent

import (
	"context"
	"fmt"
	"strings"

	"github.com/idlab/idlab/internal/hostnat"
)

// LinkName is the dummy interface holding the agent's addresses (upstream
// configuration.AgentLinkName).
const LinkName = "pod-id-link0"

// SetupLink does on the node what upstream's "initialize" does with
// netlink: the dummy interface LinkName, up, holding 169.254.170.23/32 and
// (when the node has IPv6) fd00:ec2::23/128, with routes to both through
// it. It chroots into the host's / mounted at hostRoot ("" or "/" for
// none; the chroot is process-wide, so this is for the DaemonSet's one-shot
// init container) and runs the host's ip(8). Running it again changes
// nothing.
func SetupLink(ctx context.Context, hostRoot string) error {
	return setupLink(ctx, hostnat.OSEnv(), hostRoot)
}

func setupLink(ctx context.Context, env hostnat.Env, hostRoot string) error {
	if err := hostnat.EnterRoot(env, hostRoot); err != nil {
		return fmt.Errorf("setup link: %w", err)
	}
	ip := hostnat.Find(env, "ip")
	if ip == "" {
		return fmt.Errorf("setup link: no ip command on the host")
	}
	run := func(args ...string) error {
		out, err := env.Run(ctx, append([]string{ip}, args...))
		if err != nil {
			return fmt.Errorf("setup link: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	link := LinkName
	if _, err := env.Run(ctx, []string{ip, "link", "show", "dev", LinkName}); err != nil {
		out, err := env.Run(ctx, []string{ip, "link", "add", LinkName, "type", "dummy"})
		switch {
		case err == nil:
		case strings.Contains(string(out), "Unknown device type"):
			// A kernel without the dummy driver (and no way to load it from
			// a container): the addresses go on the loopback interface,
			// which makes them just as local to the node.
			link = "lo"
		default:
			return fmt.Errorf("setup link: ip link add %s type dummy: %w: %s", LinkName, err, strings.TrimSpace(string(out)))
		}
	}
	if link == LinkName {
		if err := run("link", "set", "dev", LinkName, "up"); err != nil {
			return err
		}
	}
	if err := run("address", "replace", IPv4Address+"/32", "dev", link); err != nil {
		return err
	}
	if link == LinkName {
		if err := run("route", "replace", IPv4Address+"/32", "dev", LinkName); err != nil {
			return err
		}
	}
	// IPv6 is optional, as upstream: a node without it keeps IPv4 only. The
	// link has IPv6 when its conf directory holds disable_ipv6 (Env.Exists
	// is for files).
	if env.Exists("/proc/sys/net/ipv6/conf/" + link + "/disable_ipv6") {
		if run("-6", "address", "replace", IPv6Address+"/128", "dev", link) == nil && link == LinkName {
			_ = run("-6", "route", "replace", IPv6Address+"/128", "dev", LinkName)
		}
	}
	return nil
}
