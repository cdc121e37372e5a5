package cni

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/nodeimage"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Name
		wantErr string
	}{
		{in: "", want: ""},
		{in: "bridge", want: Bridge},
		{in: " PTP ", want: PTP},
		{in: "kindnet", want: Kindnet},
		{in: "calico", wantErr: `pod network "calico": want one of bridge, ptp, kindnet`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name       string
		requested  Name
		hasKindnet bool
		want       Name
		wantErr    string
	}{
		{name: "offline image default", want: Bridge},
		{name: "kindest/node default", hasKindnet: true, want: Kindnet},
		{name: "ptp offline", requested: PTP, want: PTP},
		{name: "ptp on kindest/node", requested: PTP, hasKindnet: true, want: PTP},
		{name: "bridge offline", requested: Bridge, want: Bridge},
		{name: "kindnet on kindest/node", requested: Kindnet, hasKindnet: true, want: Kindnet},
		{name: "kindnet offline", requested: Kindnet, wantErr: "needs a kindest/node image"},
		{name: "bridge on kindest/node", requested: Bridge, hasKindnet: true, wantErr: "kindest/node has no bridge plugin"},
		{name: "unknown", requested: "calico", wantErr: "want one of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.requested, tc.hasKindnet)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// conflist is the part of a CNI network configuration list the lab relies on.
type conflist struct {
	Name    string `json:"name"`
	Plugins []struct {
		Type   string `json:"type"`
		Bridge string `json:"bridge"`
		IPMasq bool   `json:"ipMasq"`
		IPAM   struct {
			Type string `json:"type"`
		} `json:"ipam"`
	} `json:"plugins"`
}

// TestPodInterface: each network's -i match names the host side of its
// pods' interfaces; for the bridge, the bridge its conflist (the one the
// offline node image carries) creates.
func TestPodInterface(t *testing.T) {
	var bridge conflist
	require.NoError(t, json.Unmarshal([]byte(nodeimage.CNIConfig()), &bridge))
	require.Equal(t, "bridge", bridge.Plugins[0].Type)
	tests := []struct {
		n    Name
		want string
	}{
		{n: Bridge, want: bridge.Plugins[0].Bridge},
		{n: PTP, want: "veth+"},
		{n: Kindnet, want: "veth+"},
	}
	for _, tc := range tests {
		t.Run(string(tc.n), func(t *testing.T) {
			require.Equal(t, tc.want, tc.n.PodInterface())
		})
	}
	require.Equal(t, "cni0", Bridge.PodInterface())
}

func TestConflist(t *testing.T) {
	name, data := PTP.Conflist()
	require.Less(t, name, "10-idlab-bridge.conflist", "sorts before the offline image's conflist")
	var c conflist
	require.NoError(t, json.Unmarshal(data, &c))
	require.Equal(t, "ptp", c.Plugins[0].Type)
	require.True(t, c.Plugins[0].IPMasq, "pods reach the emulator on kind's network through the node's address")
	require.Equal(t, "host-local", c.Plugins[0].IPAM.Type)
	require.NotEqual(t, "idlab", c.Name, "its own host-local state, apart from the bridge network's")
	for _, n := range []Name{Bridge, Kindnet} {
		name, data := n.Conflist()
		require.Empty(t, name)
		require.Nil(t, data)
	}
	require.False(t, PTP.DefaultCNI())
	require.False(t, Bridge.DefaultCNI())
	require.True(t, Kindnet.DefaultCNI())
}
