// Package hostnat puts nat rules into a node's iptables from a privileged
// container that has the host's root mounted: it chroots there and runs the
// host's own iptables (the lab's images are FROM scratch and carry none).
// EnterRoot and Find serve other one-shot node setup (the EKS Pod Identity
// Agent's link) the same way. The chroot is process-wide, so this is for
// one-shot commands such as a DaemonSet's init container.
package hostnat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"syscall"
)

// Rule is one rule of the nat table: its chain and specification.
type Rule struct {
	Chain string
	Spec  []string
}

// Env is what Insert does to the system; tests record it instead.
type Env struct {
	Chroot func(dir string) error
	// Exists reports whether path is a file (not a directory).
	Exists func(path string) bool
	// Run executes argv; a non-zero exit is an error with ExitCode() int.
	Run func(ctx context.Context, argv []string) ([]byte, error)
}

// OSEnv acts on the real system.
func OSEnv() Env {
	return Env{
		Chroot: func(dir string) error {
			if err := syscall.Chroot(dir); err != nil {
				return err
			}
			return os.Chdir("/")
		},
		Exists: func(p string) bool {
			fi, err := os.Stat(p)
			return err == nil && !fi.IsDir()
		},
		Run: func(ctx context.Context, argv []string) ([]byte, error) {
			return exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		},
	}
}

// iptablesNames are tried in order: the host's default iptables (on kind
// nodes a wrapper picking the backend kube-proxy uses), then the backends.
var iptablesNames = []string{"iptables", "iptables-legacy", "iptables-nft"}

var binDirs = []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"}

// Insert makes sure each rule is in the host's nat table, inserting it at
// the top of its chain (-I) when `iptables -C` does not find it, so it
// takes precedence over rules already there. hostRoot "" or "/" means no
// chroot. Running it again changes nothing.
func Insert(ctx context.Context, env Env, hostRoot string, rules ...Rule) error {
	if err := EnterRoot(env, hostRoot); err != nil {
		return err
	}
	var errs []error
	found := false
	for _, name := range iptablesNames {
		bin := Find(env, name)
		if bin == "" {
			continue
		}
		found = true
		err := ensureAll(ctx, env, bin, rules)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if !found {
		return fmt.Errorf("none of %s found in %s of the host", strings.Join(iptablesNames, ", "), strings.Join(binDirs, ":"))
	}
	return errors.Join(errs...)
}

// EnterRoot chroots into the host's root mounted at hostRoot; "" or "/"
// means none (already on the host, or a test).
func EnterRoot(env Env, hostRoot string) error {
	if hostRoot == "" || path.Clean(hostRoot) == "/" {
		return nil
	}
	if err := env.Chroot(hostRoot); err != nil {
		return fmt.Errorf("chroot %s: %w", hostRoot, err)
	}
	return nil
}

// Find returns the path of the command name in the first of the usual
// binary directories (/usr/sbin, /sbin, /usr/bin, /bin) holding it, or ""
// when none does.
func Find(env Env, name string) string {
	for _, d := range binDirs {
		if p := path.Join(d, name); env.Exists(p) {
			return p
		}
	}
	return ""
}

func ensureAll(ctx context.Context, env Env, bin string, rules []Rule) error {
	for _, r := range rules {
		argv := func(op string) []string { return append([]string{bin, "-w", "-t", "nat", op, r.Chain}, r.Spec...) }
		out, err := env.Run(ctx, argv("-C"))
		if err == nil {
			continue
		}
		// iptables -C exits 1 when the rule does not exist.
		var ec interface{ ExitCode() int }
		if !errors.As(err, &ec) || ec.ExitCode() != 1 {
			return fmt.Errorf("%s -C %s: %w: %s", bin, r.Chain, err, strings.TrimSpace(string(out)))
		}
		if out, err := env.Run(ctx, argv("-I")); err != nil {
			return fmt.Errorf("%s -I %s: %w: %s", bin, r.Chain, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
