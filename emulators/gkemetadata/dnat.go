package gkemetadata

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"syscall"
)

// MetadataIP is the address pods send metadata requests to.
const MetadataIP = "169.254.169.254"

// iptablesNames are tried in order: the node's default iptables (on kind
// nodes a wrapper picking the backend kube-proxy uses), then the explicit
// backends.
var iptablesNames = []string{"iptables", "iptables-legacy", "iptables-nft"}

// binDirs are searched for iptablesNames inside the host root.
var binDirs = []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"}

// dnatEnv is what InstallDNAT does to the system, apart so tests can
// record the command lines instead of changing iptables.
type dnatEnv struct {
	chroot func(dir string) error
	exists func(path string) bool
	// run executes argv; a non-zero exit is an error with ExitCode() int.
	run func(ctx context.Context, argv []string) ([]byte, error)
}

func osDNATEnv() dnatEnv {
	return dnatEnv{
		chroot: func(dir string) error {
			if err := syscall.Chroot(dir); err != nil {
				return err
			}
			return os.Chdir("/")
		},
		exists: func(p string) bool {
			fi, err := os.Stat(p)
			return err == nil && !fi.IsDir()
		},
		run: func(ctx context.Context, argv []string) ([]byte, error) {
			return exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		},
	}
}

// InstallDNAT makes the node send pods' metadata traffic
// (169.254.169.254:80) to the metadata server at nodeIP:port, as GKE's
// node setup does: it chroots into the host filesystem mounted at hostRoot
// ("" or "/" for none; the chroot is process-wide, so this is for a
// one-shot command such as the DaemonSet's init container) and runs the
// host's iptables (iptables, else iptables-legacy or iptables-nft):
//
//	iptables -w -t nat -C PREROUTING -d 169.254.169.254/32 -p tcp --dport 80 -j DNAT --to-destination NODE_IP:PORT
//
// and, when that check finds no rule, the same with -I; then the same in the
// OUTPUT chain, for hostNetwork pods. Running it again changes nothing.
func InstallDNAT(ctx context.Context, hostRoot, nodeIP string, port int) error {
	return installDNAT(ctx, osDNATEnv(), hostRoot, nodeIP, port)
}

// dnatRule is the rule's specification after the chain.
func dnatRule(nodeIP string, port int) []string {
	return []string{"-d", MetadataIP + "/32", "-p", "tcp", "--dport", "80",
		"-j", "DNAT", "--to-destination", net.JoinHostPort(nodeIP, strconv.Itoa(port))}
}

func installDNAT(ctx context.Context, env dnatEnv, hostRoot, nodeIP string, port int) error {
	ip := net.ParseIP(nodeIP)
	if ip == nil || ip.To4() == nil {
		return fmt.Errorf("install dnat: node IP %q: want an IPv4 address", nodeIP)
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("install dnat: port %d out of range", port)
	}
	if hostRoot != "" && path.Clean(hostRoot) != "/" {
		if err := env.chroot(hostRoot); err != nil {
			return fmt.Errorf("install dnat: chroot %s: %w", hostRoot, err)
		}
	}
	var errs []error
	found := false
	for _, name := range iptablesNames {
		bin := findBinary(env, name)
		if bin == "" {
			continue
		}
		found = true
		// PREROUTING catches pods' traffic; OUTPUT the node's own processes,
		// hostNetwork pods among them, which get the node's identity.
		err := ensureRule(ctx, env, bin, "PREROUTING", dnatRule(nodeIP, port))
		if err == nil {
			err = ensureRule(ctx, env, bin, "OUTPUT", dnatRule(nodeIP, port))
		}
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if !found {
		return fmt.Errorf("install dnat: none of %s found in %s of the host", strings.Join(iptablesNames, ", "), strings.Join(binDirs, ":"))
	}
	return fmt.Errorf("install dnat: %w", errors.Join(errs...))
}

func findBinary(env dnatEnv, name string) string {
	for _, d := range binDirs {
		if p := path.Join(d, name); env.exists(p) {
			return p
		}
	}
	return ""
}

// ensureRule checks for the rule (-C) and inserts it (-I) when absent:
// iptables -C exits 1 when the rule does not exist.
func ensureRule(ctx context.Context, env dnatEnv, bin, chain string, rule []string) error {
	argv := func(op string) []string {
		return append([]string{bin, "-w", "-t", "nat", op, chain}, rule...)
	}
	out, err := env.run(ctx, argv("-C"))
	if err == nil {
		return nil
	}
	var ec interface{ ExitCode() int }
	if !errors.As(err, &ec) || ec.ExitCode() != 1 {
		return fmt.Errorf("%s -C: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	if out, err := env.run(ctx, argv("-I")); err != nil {
		return fmt.Errorf("%s -I: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	return nil
}
