package hostnat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type exitErr int

func (e exitErr) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitErr) ExitCode() int { return int(e) }

func TestInsert(t *testing.T) {
	rule := Rule{Chain: "PREROUTING", Spec: []string{"-i", "cni0", "-j", "DNAT", "--to-destination", "10.0.0.1:8181"}}
	spec := " PREROUTING -i cni0 -j DNAT --to-destination 10.0.0.1:8181"
	tests := []struct {
		name     string
		hostRoot string
		bins     []string
		results  map[string]error // "BIN OP" -> error
		ran      []string
		chroot   []string
		err      string
	}{
		{name: "absent: inserted", hostRoot: "/host", bins: []string{"/usr/sbin/iptables"},
			results: map[string]error{"/usr/sbin/iptables -C": exitErr(1)}, chroot: []string{"/host"},
			ran: []string{"/usr/sbin/iptables -w -t nat -C" + spec, "/usr/sbin/iptables -w -t nat -I" + spec}},
		{name: "present: nothing to do", hostRoot: "/", bins: []string{"/usr/sbin/iptables"},
			ran: []string{"/usr/sbin/iptables -w -t nat -C" + spec}},
		{name: "broken iptables: falls back to iptables-nft", bins: []string{"/sbin/iptables", "/usr/sbin/iptables-nft"},
			results: map[string]error{"/sbin/iptables -C": exitErr(2), "/usr/sbin/iptables-nft -C": exitErr(1)},
			ran:     []string{"/sbin/iptables -w -t nat -C" + spec, "/usr/sbin/iptables-nft -w -t nat -C" + spec, "/usr/sbin/iptables-nft -w -t nat -I" + spec}},
		{name: "insert fails", bins: []string{"/sbin/iptables"},
			results: map[string]error{"/sbin/iptables -C": exitErr(1), "/sbin/iptables -I": exitErr(4)},
			ran:     []string{"/sbin/iptables -w -t nat -C" + spec, "/sbin/iptables -w -t nat -I" + spec}, err: "-I PREROUTING: exit status 4"},
		{name: "no iptables", err: "none of iptables"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ran, chroot []string
			env := Env{
				Chroot: func(d string) error { chroot = append(chroot, d); return nil },
				Exists: func(p string) bool {
					for _, b := range tc.bins {
						if b == p {
							return true
						}
					}
					return false
				},
				Run: func(_ context.Context, argv []string) ([]byte, error) {
					ran = append(ran, strings.Join(argv, " "))
					return nil, tc.results[argv[0]+" "+argv[4]]
				},
			}
			err := Insert(context.Background(), env, tc.hostRoot, rule)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.ran, ran)
			require.Equal(t, tc.chroot, chroot)
		})
	}
	err := Insert(context.Background(), Env{Chroot: func(string) error { return errors.New("denied") }}, "/host", rule)
	require.ErrorContains(t, err, "chroot /host: denied")
}

func TestEnterRootAndFind(t *testing.T) {
	var chroot []string
	files := map[string]bool{"/sbin/ip": true, "/bin/ip": true, "/usr/bin/iptables": true}
	env := Env{
		Chroot: func(d string) error {
			if d == "/denied" {
				return errors.New("operation not permitted")
			}
			chroot = append(chroot, d)
			return nil
		},
		Exists: func(p string) bool { return files[p] },
	}
	for _, root := range []string{"", "/", "//", "/host"} {
		require.NoError(t, EnterRoot(env, root))
	}
	require.Equal(t, []string{"/host"}, chroot, "only a root other than / is entered")
	require.EqualError(t, EnterRoot(env, "/denied"), "chroot /denied: operation not permitted")

	require.Equal(t, "/sbin/ip", Find(env, "ip"), "the first directory holding it wins")
	require.Equal(t, "/usr/bin/iptables", Find(env, "iptables"))
	require.Empty(t, Find(env, "nft"))
}
