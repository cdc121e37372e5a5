package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

func TestConfigAddsIssuerAndKeys(t *testing.T) {
	tmpl, err := LoadTemplate("../../kind-config.yaml")
	require.NoError(t, err)
	k := NewKind(tmpl)
	c := k.Config(Spec{Name: "eks", NodeImage: "idlab/node:v1.34.4-abc", IssuerURL: "https://oidc.eks.us-west-2.amazonaws.com/id/X",
		JWKSURL: "https://oidc.eks.us-west-2.amazonaws.com/id/X/keys", SigningKeyFile: "/s/sa.key", PublicKeysFile: "/s/sa.pub", DisableDefaultCNI: true})
	require.Equal(t, "eks", c.Name)
	require.True(t, c.Networking.DisableDefaultCNI)
	require.Len(t, c.Nodes, 1)
	require.Equal(t, v1alpha4.ControlPlaneRole, c.Nodes[0].Role)
	require.Equal(t, "idlab/node:v1.34.4-abc", c.Nodes[0].Image)
	require.Contains(t, c.Nodes[0].ExtraMounts, v1alpha4.Mount{HostPath: "/s/sa.key", ContainerPath: "/etc/kubernetes/pki/sa.key", Readonly: true})
	require.Contains(t, c.Nodes[0].ExtraMounts, v1alpha4.Mount{HostPath: "/s/sa.pub", ContainerPath: "/etc/kubernetes/pki/sa.pub", Readonly: true})
	require.Len(t, c.KubeadmConfigPatchesJSON6902, 2)
	v3, v4 := c.KubeadmConfigPatchesJSON6902[0], c.KubeadmConfigPatchesJSON6902[1]
	require.Equal(t, "v1beta3", v3.Version)
	require.Contains(t, v3.Patch, "path: /apiServer/extraArgs/service-account-issuer\n  value: \"https://oidc.eks.us-west-2.amazonaws.com/id/X\"")
	require.Equal(t, "v1beta4", v4.Version)
	require.Contains(t, v4.Patch, `value: {name: service-account-issuer, value: "https://oidc.eks.us-west-2.amazonaws.com/id/X"}`)
	require.Contains(t, v4.Patch, `service-account-jwks-uri, value: "https://oidc.eks.us-west-2.amazonaws.com/id/X/keys"`)
	// The control plane survives a loaded machine: etcd on the node's
	// tmpfs, no leader election to lose.
	require.Len(t, c.KubeadmConfigPatches, 1)
	type args struct {
		ExtraArgs map[string]string `json:"extraArgs"`
	}
	var cp struct {
		Kind string `json:"kind"`
		Etcd struct {
			Local struct {
				DataDir string `json:"dataDir"`
			} `json:"local"`
		} `json:"etcd"`
		ControllerManager args `json:"controllerManager"`
		Scheduler         args `json:"scheduler"`
	}
	require.NoError(t, yaml.UnmarshalStrict([]byte(c.KubeadmConfigPatches[0]), &cp))
	require.Equal(t, "ClusterConfiguration", cp.Kind)
	require.Equal(t, "/tmp/idlab-etcd", cp.Etcd.Local.DataDir)
	require.Equal(t, map[string]string{"leader-elect": "false"}, cp.ControllerManager.ExtraArgs)
	require.Equal(t, map[string]string{"leader-elect": "false"}, cp.Scheduler.ExtraArgs)
	// The template is not modified.
	require.Empty(t, tmpl.Nodes[0].ExtraMounts)
}

// TestConfigPodNetwork: the spec, not the template, decides whether kind
// installs kindnet, and a conflist of the lab's is mounted into every node
// under its own name, with the labels on every node.
func TestConfigPodNetwork(t *testing.T) {
	tmpl, err := LoadTemplate("../../kind-config.yaml")
	require.NoError(t, err)
	require.True(t, tmpl.Networking.DisableDefaultCNI, "the repository's template is the offline one")
	tmpl.Nodes = append(tmpl.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Labels: map[string]string{"pool": "a"}})
	tests := []struct {
		name        string
		spec        Spec
		wantDisable bool
		wantMount   *v1alpha4.Mount
		wantLabels  []map[string]string // per node
	}{
		{name: "bridge", spec: Spec{DisableDefaultCNI: true, NodeLabels: map[string]string{"idlab.dev/pod-network": "bridge"}}, wantDisable: true,
			wantLabels: []map[string]string{{"idlab.dev/pod-network": "bridge"}, {"pool": "a", "idlab.dev/pod-network": "bridge"}}},
		{name: "ptp", spec: Spec{DisableDefaultCNI: true, CNIConfigFile: "/state/cni/05-idlab-ptp.conflist"}, wantDisable: true,
			wantMount:  &v1alpha4.Mount{HostPath: "/state/cni/05-idlab-ptp.conflist", ContainerPath: "/etc/cni/net.d/05-idlab-ptp.conflist", Readonly: true},
			wantLabels: []map[string]string{nil, {"pool": "a"}}},
		{name: "kindnet", spec: Spec{DisableDefaultCNI: false}, wantDisable: false, wantLabels: []map[string]string{nil, {"pool": "a"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Name, tc.spec.SigningKeyFile, tc.spec.PublicKeysFile = "eks", "/s/sa.key", "/s/sa.pub"
			c := NewKind(tmpl).Config(tc.spec)
			require.Equal(t, tc.wantDisable, c.Networking.DisableDefaultCNI)
			require.Len(t, c.Nodes, 2)
			for i, n := range c.Nodes {
				var cni []v1alpha4.Mount
				for _, m := range n.ExtraMounts {
					if filepath.Dir(m.ContainerPath) == CNIConfigDir {
						cni = append(cni, m)
					}
				}
				if tc.wantMount == nil {
					require.Empty(t, cni, "node %d", i)
				} else {
					require.Equal(t, []v1alpha4.Mount{*tc.wantMount}, cni, "node %d", i)
				}
				require.Equal(t, tc.wantLabels[i], n.Labels, "node %d", i)
			}
		})
	}
	require.Equal(t, map[string]string{"pool": "a"}, tmpl.Nodes[1].Labels, "the template is not modified")
}

func TestLoadTemplateRejects(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"wrong kind":    "kind: Pod\napiVersion: v1\n",
		"unknown field": "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodez: []\n",
	} {
		p := filepath.Join(dir, "c.yaml")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		_, err := LoadTemplate(p)
		require.Error(t, err, name)
	}
}

// TestDefaultTemplateIsTheRepositorys: the built-in template and the
// repository's kind-config.yaml say the same.
func TestDefaultTemplateIsTheRepositorys(t *testing.T) {
	tmpl, err := LoadTemplate("../../kind-config.yaml")
	require.NoError(t, err)
	require.Equal(t, tmpl, DefaultTemplate())
}
