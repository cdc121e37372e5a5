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
