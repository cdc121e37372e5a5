package gkemetadata

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/hostnat"
)

type exitErr int

func (e exitErr) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitErr) ExitCode() int { return int(e) }

// fakeDNATEnv records chroots and command lines; results maps a command
// line prefix ("BIN OP") to the error it returns.
type fakeDNATEnv struct {
	chrooted []string
	bins     map[string]bool
	results  map[string]error
	ran      []string
}

func (f *fakeDNATEnv) env() hostnat.Env {
	return hostnat.Env{
		Chroot: func(dir string) error { f.chrooted = append(f.chrooted, dir); return nil },
		Exists: func(p string) bool { return f.bins[p] },
		Run: func(_ context.Context, argv []string) ([]byte, error) {
			line := strings.Join(argv, " ")
			f.ran = append(f.ran, line)
			return []byte("out"), f.results[argv[0]+" "+argv[4]]
		},
	}
}

func TestInstallDNAT(t *testing.T) {
	const spec = " -d 169.254.169.254/32 -p tcp --dport 80 -j DNAT --to-destination 172.18.0.2:988"
	pre, out := "PREROUTING"+spec, "OUTPUT"+spec
	tests := []struct {
		name     string
		hostRoot string
		bins     []string
		results  map[string]error
		ran      []string
		err      string
	}{
		{name: "rules absent: inserted in both chains", hostRoot: "/host", bins: []string{"/usr/sbin/iptables"},
			results: map[string]error{"/usr/sbin/iptables -C": exitErr(1)},
			ran: []string{"/usr/sbin/iptables -w -t nat -C " + pre, "/usr/sbin/iptables -w -t nat -I " + pre,
				"/usr/sbin/iptables -w -t nat -C " + out, "/usr/sbin/iptables -w -t nat -I " + out}},
		{name: "rules present: nothing to do", hostRoot: "/host", bins: []string{"/usr/sbin/iptables"},
			ran: []string{"/usr/sbin/iptables -w -t nat -C " + pre, "/usr/sbin/iptables -w -t nat -C " + out}},
		{name: "only iptables-legacy", hostRoot: "/", bins: []string{"/sbin/iptables-legacy"},
			results: map[string]error{"/sbin/iptables-legacy -C": exitErr(1)},
			ran: []string{"/sbin/iptables-legacy -w -t nat -C " + pre, "/sbin/iptables-legacy -w -t nat -I " + pre,
				"/sbin/iptables-legacy -w -t nat -C " + out, "/sbin/iptables-legacy -w -t nat -I " + out}},
		{name: "iptables broken: falls back to iptables-nft", hostRoot: "/host", bins: []string{"/usr/sbin/iptables", "/usr/sbin/iptables-nft"},
			results: map[string]error{"/usr/sbin/iptables -C": exitErr(3), "/usr/sbin/iptables-nft -C": exitErr(1)},
			ran: []string{"/usr/sbin/iptables -w -t nat -C " + pre, "/usr/sbin/iptables-nft -w -t nat -C " + pre,
				"/usr/sbin/iptables-nft -w -t nat -I " + pre, "/usr/sbin/iptables-nft -w -t nat -C " + out, "/usr/sbin/iptables-nft -w -t nat -I " + out}},
		{name: "insert fails", hostRoot: "/host", bins: []string{"/usr/sbin/iptables"},
			results: map[string]error{"/usr/sbin/iptables -C": exitErr(1), "/usr/sbin/iptables -I": exitErr(4)},
			ran:     []string{"/usr/sbin/iptables -w -t nat -C " + pre, "/usr/sbin/iptables -w -t nat -I " + pre},
			err:     "/usr/sbin/iptables -I PREROUTING: exit status 4: out"},
		{name: "no iptables", hostRoot: "/host", err: "none of iptables, iptables-legacy, iptables-nft found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeDNATEnv{bins: map[string]bool{}, results: tc.results}
			for _, b := range tc.bins {
				f.bins[b] = true
			}
			err := installDNAT(context.Background(), f.env(), tc.hostRoot, "172.18.0.2", Port)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.ran, f.ran)
			if tc.hostRoot == "/" {
				require.Empty(t, f.chrooted)
			} else {
				require.Equal(t, []string{tc.hostRoot}, f.chrooted)
			}
		})
	}
}

func TestInstallDNATValidates(t *testing.T) {
	f := &fakeDNATEnv{}
	require.ErrorContains(t, installDNAT(context.Background(), f.env(), "/host", "fe80::1", Port), "IPv4")
	require.ErrorContains(t, installDNAT(context.Background(), f.env(), "/host", "10.0.0.1", 0), "port")
	env := f.env()
	env.Chroot = func(string) error { return errors.New("operation not permitted") }
	require.ErrorContains(t, installDNAT(context.Background(), env, "/host", "10.0.0.1", Port), "chroot /host: operation not permitted")
	require.Empty(t, f.ran)
}
