package hostlocal

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// localExec runs the commands Steer sends a node on this machine, its
// standard output trimmed as the harness's docker exec returns it; before
// each it calls before, when set, with the arguments.
func localExec(before func(args []string)) Exec {
	return func(ctx context.Context, args ...string) (string, error) {
		if before != nil {
			before(args)
		}
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).Output()
		if err != nil {
			return "", fmt.Errorf("%q: %w", args, err)
		}
		return strings.TrimSpace(string(out)), nil
	}
}

// TestSteer runs Steer's commands with this machine's ls, cat and sh over
// a CNI configuration and host-local state in temporary directories, and
// host-local's own allocator hands out the addresses: pods held
// 10.244.0.2-8, the ones at .3 and .7 finished (host-local released them)
// and the last handed out was .8. Without steering the next pod gets .9;
// steered to .7, it gets .7 (not .3, the first free one, which a badly
// written state file would give).
func TestSteer(t *testing.T) {
	tests := []struct {
		name string
		// releaseLate holds the reservation of .7 until Steer has
		// listed the state directory this many times.
		releaseLate int
		addr        string
		timeout     time.Duration
		wantErr     string
		wantNext    string
	}{
		{name: "a free address", addr: "10.244.0.7", wantNext: "10.244.0.7"},
		{name: "an address freed while Steer waits", addr: "10.244.0.7", releaseLate: 3, wantNext: "10.244.0.7"},
		{name: "an address never freed", addr: "10.244.0.7", releaseLate: 1 << 30, timeout: 100 * time.Millisecond,
			wantErr: "10.244.0.7 not seen free in", wantNext: "10.244.0.9"},
		{name: "the gateway", addr: "10.244.0.1", wantErr: "is the gateway", wantNext: "10.244.0.9"},
		{name: "another network's address", addr: "10.245.0.7", wantErr: "in no range of network steer", wantNext: "10.244.0.9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			confDir, dataDir := t.TempDir(), t.TempDir()
			conf := `{"cniVersion": "0.4.0", "name": "steer", "plugins": [{"type": "bridge", "ipam": {"type": "host-local", "dataDir": "` + dataDir +
				`", "ranges": [[{"subnet": "10.244.0.0/24"}]]}}, {"type": "portmap"}]}`
			// A file containerd would not read, sorting first.
			require.NoError(t, os.WriteFile(filepath.Join(confDir, "00-notes.txt"), []byte("not CNI"), 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(confDir, "10-steer.conflist"), []byte(conf), 0o600))
			a := hostLocal(t, "10-steer.conflist", []byte(conf), 0)
			for i := 2; i <= 8; i++ {
				require.Equal(t, addr(fmt.Sprintf("10.244.0.%d", i)), allocate(t, a, fmt.Sprintf("pod-%d", i)))
			}
			require.NoError(t, a.Release("pod-3", "eth0"))
			if tc.releaseLate == 0 {
				require.NoError(t, a.Release("pod-7", "eth0"))
			}
			lists := 0
			node := Node{ConfDir: confDir, Poll: time.Millisecond, Exec: localExec(func(args []string) {
				if args[0] != "ls" || args[len(args)-1] != filepath.Join(dataDir, "steer") {
					return
				}
				if lists++; lists == tc.releaseLate {
					require.NoError(t, a.Release("pod-7", "eth0"))
				}
			})}
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			s, err := node.Steer(ctx, addr(tc.addr))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
				require.Equal(t, Steered{Network: Network{Name: "steer", DataDir: dataDir, RangeSets: [][]Range{{{Subnet: netip.MustParsePrefix("10.244.0.0/24"),
					Start: addr("10.244.0.1"), End: addr("10.244.0.254"), Gateway: addr("10.244.0.1")}}}},
					ConfFile: "10-steer.conflist", File: filepath.Join(dataDir, "steer", "last_reserved_ip.0"), Addr: addr(tc.addr), Previous: addr("10.244.0.6")}, s)
				require.Equal(t, "host-local network steer (10-steer.conflist): 10.244.0.6 written into "+s.File+", so 10.244.0.7 is next", s.String())
				if tc.releaseLate > 0 {
					require.Equal(t, tc.releaseLate, lists, "Steer waited for the release")
				}
			}
			require.Equal(t, addr(tc.wantNext), allocate(t, a, "new"))
		})
	}
}

// TestSteerReadsContainerdsConf: of several configurations Steer steers
// the one containerd uses, and says so when there is none it can steer.
func TestSteerReadsContainerdsConf(t *testing.T) {
	conf := func(name, dataDir string) string {
		return `{"cniVersion": "0.4.0", "name": "` + name + `", "plugins": [{"type": "ptp", "ipam": {"type": "host-local", "dataDir": "` + dataDir + `", "ranges": [[{"subnet": "10.244.0.0/24"}]]}}]}`
	}
	t.Run("the first sorted", func(t *testing.T) {
		confDir, dataDir := t.TempDir(), t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(confDir, "10-idlab-bridge.conflist"), []byte(conf("idlab", dataDir)), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(confDir, "05-idlab-ptp.conflist"), []byte(conf("idlab-ptp", dataDir)), 0o600))
		require.NoError(t, os.MkdirAll(filepath.Join(dataDir, "idlab-ptp"), 0o755))
		s, err := Node{ConfDir: confDir, Exec: localExec(nil)}.Steer(context.Background(), addr("10.244.0.7"))
		require.NoError(t, err)
		require.Equal(t, "idlab-ptp", s.Network.Name)
		got, err := os.ReadFile(filepath.Join(dataDir, "idlab-ptp", "last_reserved_ip.0"))
		require.NoError(t, err)
		require.Equal(t, "10.244.0.6", string(got), "no newline")
		require.NoFileExists(t, filepath.Join(dataDir, "idlab", "last_reserved_ip.0"))
	})
	t.Run("none", func(t *testing.T) {
		_, err := Node{ConfDir: t.TempDir(), Exec: localExec(nil)}.Steer(context.Background(), addr("10.244.0.7"))
		require.ErrorContains(t, err, "no CNI configuration in")
	})
	t.Run("another IPAM", func(t *testing.T) {
		confDir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(confDir, "10-calico.conflist"), []byte(`{"name": "k8s-pod-network", "plugins": [{"type": "calico", "ipam": {"type": "calico-ipam"}}]}`), 0o600))
		_, err := Node{ConfDir: confDir, Exec: localExec(nil)}.Steer(context.Background(), addr("10.244.0.7"))
		require.ErrorIs(t, err, ErrNoHostLocal)
	})
}
