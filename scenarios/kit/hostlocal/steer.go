package hostlocal

import (
	"context"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"
)

// Exec runs a command on the node (args[0] the program) and returns its
// standard output, as `docker exec NODE args...` does for a kind node.
type Exec func(ctx context.Context, args ...string) (string, error)

// Node is a node's host-local state, reached through Exec.
type Node struct {
	Exec Exec
	// ConfDir is where the node's CNI configuration lives. Defaults to
	// ConfDir.
	ConfDir string
	// Poll is how often Steer looks whether the address is free yet.
	// Defaults to 250ms.
	Poll time.Duration
}

// writeScript writes its first argument, as it is (no newline: host-local
// parses the file's whole content as an address), into the file its
// second names.
const writeScript = `printf '%s' "$1" > "$2"`

// Load reads the network the node's runtime uses: ParseConf of
// DefaultConfFile among the files of ConfDir. It returns the file's name.
func (n Node) Load(ctx context.Context) (Network, string, error) {
	dir := n.ConfDir
	if dir == "" {
		dir = ConfDir
	}
	names, err := n.list(ctx, dir)
	if err != nil {
		return Network{}, "", err
	}
	name, ok := DefaultConfFile(names)
	if !ok {
		return Network{}, "", fmt.Errorf("no CNI configuration in %s (files: %v)", dir, names)
	}
	data, err := n.Exec(ctx, "cat", "--", path.Join(dir, name))
	if err != nil {
		return Network{}, "", fmt.Errorf("read %s: %w", path.Join(dir, name), err)
	}
	nw, err := ParseConf(name, []byte(data))
	return nw, name, err
}

// list is the names in dir on the node.
func (n Node) list(ctx context.Context, dir string) ([]string, error) {
	out, err := n.Exec(ctx, "ls", "-1", "--", dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return strings.Fields(out), nil
}

// Steered is what Steer did: on Network (read from ConfFile) it wrote
// Previous into File, so Addr is the next address the node hands out.
type Steered struct {
	Network        Network
	ConfFile, File string
	Addr, Previous netip.Addr
}

func (s Steered) String() string {
	return fmt.Sprintf("host-local network %s (%s): %s written into %s, so %s is next", s.Network.Name, s.ConfFile, s.Previous, s.File, s.Addr)
}

// Steer makes addr the next address the node's host-local IPAM hands
// out: it waits until addr is free (its reservation file gone, as when the
// sandbox of the pod that had it is torn down; ctx bounds the wait), then
// writes the address before it (Network.Before) as its range set's last
// reserved one and reads it back. The next pod whose sandbox the node
// creates gets addr, unless another takes it first.
func (n Node) Steer(ctx context.Context, addr netip.Addr) (Steered, error) {
	nw, conf, err := n.Load(ctx)
	if err != nil {
		return Steered{}, err
	}
	addr = addr.Unmap()
	prev, id, err := nw.Before(addr)
	if err != nil {
		return Steered{}, err
	}
	s := Steered{Network: nw, ConfFile: conf, File: nw.LastReservedFile(id), Addr: addr, Previous: prev}
	if err := n.waitFree(ctx, nw, addr); err != nil {
		return s, err
	}
	if _, err := n.Exec(ctx, "sh", "-c", writeScript, "sh", prev.String(), s.File); err != nil {
		return s, fmt.Errorf("write %s: %w", s.File, err)
	}
	got, err := n.Exec(ctx, "cat", "--", s.File)
	if err != nil {
		return s, fmt.Errorf("read back %s: %w", s.File, err)
	}
	if got != prev.String() {
		return s, fmt.Errorf("%s holds %q after writing %s", s.File, got, prev)
	}
	return s, nil
}

// waitFree waits until the network's state directory has no reservation
// of addr.
func (n Node) waitFree(ctx context.Context, nw Network, addr netip.Addr) error {
	poll := n.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	file := path.Base(nw.ReservationFile(addr))
	for {
		names, err := n.list(ctx, nw.Dir())
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("%s not seen free in %s: %w", addr, nw.Dir(), ctx.Err())
		case err != nil:
			return err
		case !slices.Contains(names, file):
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not seen free in %s: %w", addr, nw.Dir(), ctx.Err())
		case <-time.After(poll):
		}
	}
}
