package kube2iam

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDNATRule: the rule --iptables installs for each pod network's
// --host-interface, as `iptables -t nat -I PREROUTING` takes it.
func TestDNATRule(t *testing.T) {
	tests := []struct {
		name, hostInterface string
		want                string
	}{
		{name: "bridge", hostInterface: "cni0",
			want: "-p tcp -d 169.254.169.254/32 --dport 80 -i cni0 -j DNAT --to-destination 172.18.0.3:8181"},
		{name: "ptp and kindnet", hostInterface: "veth+",
			want: "-p tcp -d 169.254.169.254/32 --dport 80 -i veth+ -j DNAT --to-destination 172.18.0.3:8181"},
		{name: "calico", hostInterface: "cali+",
			want: "-p tcp -d 169.254.169.254/32 --dport 80 -i cali+ -j DNAT --to-destination 172.18.0.3:8181"},
		{name: "all but the node's own", hostInterface: "!eth0",
			want: "-p tcp -d 169.254.169.254/32 --dport 80 ! -i eth0 -j DNAT --to-destination 172.18.0.3:8181"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := DNATRule(tc.hostInterface, "172.18.0.3", DefaultAppPort)
			require.Equal(t, "PREROUTING", r.Chain)
			require.Equal(t, tc.want, strings.Join(r.Spec, " "))
		})
	}
}

func TestCheckInterface(t *testing.T) {
	byName := func(name string) (*net.Interface, error) {
		if name == "cni0" || name == "eth0" {
			return &net.Interface{Name: name}, nil
		}
		return nil, errors.New("no such network interface")
	}
	tests := []struct {
		hostInterface, wantErr string
	}{
		{hostInterface: "cni0"},
		{hostInterface: "!eth0"},
		{hostInterface: "veth+"},
		{hostInterface: "!veth+"},
		{hostInterface: "docker0", wantErr: "host interface docker0: no such network interface"},
		{hostInterface: "!docker0", wantErr: "host interface !docker0: no such network interface"},
		{hostInterface: "", wantErr: "--host-interface must be set"},
		{hostInterface: "!", wantErr: "--host-interface must be set"},
	}
	for _, tc := range tests {
		t.Run(tc.hostInterface, func(t *testing.T) {
			err := checkInterface(tc.hostInterface, byName)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}
