package aadpodidentity

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/hostnat"
)

func TestInstallChain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		listed  string // -S output; "" = no chain
		jump    bool
		want    []string
		failing string // a command that fails
		err     string
	}{
		{name: "fresh", want: []string{"-N aad-metadata", "-F aad-metadata",
			"-A aad-metadata -p tcp ! -s 127.0.0.1/32 -d 169.254.169.254 --dport 80 -j DNAT --to-destination 127.0.0.1:2579",
			"-A aad-metadata -j RETURN", "-I PREROUTING 1 -j aad-metadata"}},
		{name: "in place", listed: strings.Join(ChainRules("169.254.169.254", "80", "127.0.0.1", "2579"), "\n") + "\n", jump: true},
		{name: "insert fails", listed: strings.Join(ChainRules("169.254.169.254", "80", "127.0.0.1", "2579"), "\n"), failing: "-I PREROUTING 1 -j aad-metadata",
			want: []string{"-I PREROUTING 1 -j aad-metadata"}, err: "-t nat -I PREROUTING 1 -j aad-metadata: exit 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var chroot string
			var ran []string
			env := hostnat.Env{
				Chroot: func(d string) error { chroot = d; return nil },
				Exists: func(p string) bool { return p == "/usr/sbin/iptables" },
				Run: func(_ context.Context, argv []string) ([]byte, error) {
					require.Equal(t, []string{"/usr/sbin/iptables", "-w", "-t", "nat"}, argv[:4])
					cmd := strings.Join(argv[4:], " ")
					switch {
					case cmd == "-S aad-metadata":
						if tc.listed == "" {
							return []byte("iptables: No chain/target/match by that name."), errors.New("exit 1")
						}
						return []byte(tc.listed), nil
					case cmd == "-C PREROUTING -j aad-metadata":
						if !tc.jump {
							return nil, errors.New("exit 1")
						}
						return nil, nil
					}
					ran = append(ran, cmd)
					if cmd == tc.failing {
						return []byte("denied"), errors.New("exit 4")
					}
					return nil, nil
				},
			}
			_, err := InstallChain(context.Background(), env, "/host", "169.254.169.254", "80", "127.0.0.1", "2579")
			require.Equal(t, "/host", chroot)
			require.Equal(t, tc.want, ran)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
		})
	}
	_, err := InstallChain(context.Background(), hostnat.Env{Chroot: func(string) error { return nil }, Exists: func(string) bool { return false }}, "/host", "a", "b", "c", "d")
	require.EqualError(t, err, "no iptables on the host")
}
