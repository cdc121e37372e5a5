package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// TestConfigNodes: Spec.Nodes makes one control plane (the template's
// first, with its mounts and labels) and Nodes-1 workers (copies of the
// template's first worker, or plain), each with the node image, the
// signing keys on the control plane only, and, with CNIConfigDirs, its own
// directory as the CNI config dir (no shared conflist file).
func TestConfigNodes(t *testing.T) {
	one, err := LoadTemplate("../../kind-config.yaml")
	require.NoError(t, err)
	withWorker := one.DeepCopy()
	withWorker.Nodes[0].Labels = map[string]string{"cp": "yes"}
	withWorker.Nodes = append(withWorker.Nodes,
		v1alpha4.Node{Role: v1alpha4.WorkerRole, Labels: map[string]string{"pool": "a"}},
		v1alpha4.Node{Role: v1alpha4.WorkerRole, Labels: map[string]string{"pool": "b"}})
	cp, w := v1alpha4.ControlPlaneRole, v1alpha4.WorkerRole
	tests := []struct {
		name       string
		tmpl       *v1alpha4.Cluster
		nodes      int
		dirs       []string
		wantRoles  []v1alpha4.NodeRole
		wantLabels []map[string]string
	}{
		{name: "zero keeps the template", tmpl: withWorker, wantRoles: []v1alpha4.NodeRole{cp, w, w},
			wantLabels: []map[string]string{{"cp": "yes"}, {"pool": "a"}, {"pool": "b"}}},
		{name: "one", tmpl: one, nodes: 1, wantRoles: []v1alpha4.NodeRole{cp}, wantLabels: []map[string]string{nil}},
		{name: "one from a template with workers", tmpl: withWorker, nodes: 1, wantRoles: []v1alpha4.NodeRole{cp},
			wantLabels: []map[string]string{{"cp": "yes"}}},
		{name: "two, plain worker", tmpl: one, nodes: 2, dirs: []string{"/s/cni/eks/0", "/s/cni/eks/1"},
			wantRoles: []v1alpha4.NodeRole{cp, w}, wantLabels: []map[string]string{nil, nil}},
		{name: "three, the template's first worker copied", tmpl: withWorker, nodes: 3, dirs: []string{"/d0", "/d1", "/d2"},
			wantRoles: []v1alpha4.NodeRole{cp, w, w}, wantLabels: []map[string]string{{"cp": "yes"}, {"pool": "a"}, {"pool": "a"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := Spec{Name: "eks", NodeImage: "img", SigningKeyFile: "/s/sa.key", PublicKeysFile: "/s/sa.pub", DisableDefaultCNI: true,
				Nodes: tc.nodes, CNIConfigDirs: tc.dirs, CNIConfigFile: "/s/cni/05-idlab-ptp.conflist"}
			c := NewKind(tc.tmpl).Config(spec)
			var roles []v1alpha4.NodeRole
			var labels []map[string]string
			for i, n := range c.Nodes {
				roles = append(roles, n.Role)
				labels = append(labels, n.Labels)
				require.Equal(t, "img", n.Image)
				var cni, keys []v1alpha4.Mount
				for _, m := range n.ExtraMounts {
					switch {
					case m.ContainerPath == CNIConfigDir || filepath.Dir(m.ContainerPath) == CNIConfigDir:
						cni = append(cni, m)
					case filepath.Dir(m.ContainerPath) == "/etc/kubernetes/pki":
						keys = append(keys, m)
					}
				}
				if tc.dirs != nil {
					require.Equal(t, []v1alpha4.Mount{{HostPath: tc.dirs[i], ContainerPath: CNIConfigDir, Readonly: true}}, cni, "node %d: its own dir, not the shared file", i)
				} else {
					require.Equal(t, []v1alpha4.Mount{{HostPath: "/s/cni/05-idlab-ptp.conflist", ContainerPath: "/etc/cni/net.d/05-idlab-ptp.conflist", Readonly: true}}, cni, "node %d", i)
				}
				if n.Role == cp {
					require.Len(t, keys, 2, "the control plane signs with the lab's key")
				} else {
					require.Empty(t, keys, "node %d: a worker has no signing key", i)
				}
			}
			require.Equal(t, tc.wantRoles, roles)
			require.Equal(t, tc.wantLabels, labels)
		})
	}
	require.Len(t, withWorker.Nodes, 3, "the template is not modified")
	require.Empty(t, withWorker.Nodes[1].ExtraMounts)
}

// TestNodeName: kind's names for a cluster's nodes, in Config's order.
func TestNodeName(t *testing.T) {
	for i, want := range []string{"eks-control-plane", "eks-worker", "eks-worker2", "eks-worker3"} {
		require.Equal(t, want, NodeName("eks", i))
	}
}

// TestMissingImages: a node is sent only the images it lacks or holds
// under another ID (a rebuilt tag); a failed lookup counts as missing.
func TestMissingImages(t *testing.T) {
	want := map[string]string{"idlab/probe:a": "sha256:1", "idlab/azclient:b": "sha256:2", "idlab/pyclient:c": "sha256:3"}
	node := map[string]string{"idlab/probe:a": "sha256:1", "idlab/azclient:b": "sha256:old"}
	have := func(img string) (string, error) {
		if id, ok := node[img]; ok {
			return id, nil
		}
		return "", errors.New("crictl inspecti: no such image")
	}
	require.Equal(t, []string{"idlab/azclient:b", "idlab/pyclient:c"},
		missingImages([]string{"idlab/probe:a", "idlab/azclient:b", "idlab/pyclient:c"}, want, have))
	require.Empty(t, missingImages([]string{"idlab/probe:a"}, want, have))
	require.Equal(t, []string{"x"}, missingImages([]string{"x"}, map[string]string{}, func(string) (string, error) { return "", nil }),
		"an image Docker gave no ID for is loaded")
}

func TestArchivePath(t *testing.T) {
	p := archivePath("/a", "idlab/probe:v1", "sha256:1111")
	require.Equal(t, "/a", filepath.Dir(p))
	require.Regexp(t, `^[0-9a-f]{24}\.tar$`, filepath.Base(p))
	require.Equal(t, p, archivePath("/a", "idlab/probe:v1", "sha256:1111"), "a warm up finds the archive it saved before")
	for name, other := range map[string]string{
		"the tag moved to a rebuilt image": archivePath("/a", "idlab/probe:v1", "sha256:2222"),
		"another tag of the same image":    archivePath("/a", "idlab/probe:v2", "sha256:1111"),
		"name and ID not run together":     archivePath("/a", "idlab/probe:v1sha256:111", "1"),
	} {
		require.NotEqual(t, p, other, name)
	}
}

func TestRemoveUnused(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	write := func(name string, age time.Duration) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		require.NoError(t, os.Chtimes(p, now.Add(-age), now.Add(-age)))
		return p
	}
	old := write("old.tar", 2*ArchiveTTL)
	killed := write(".save-123", 2*ArchiveTTL)
	fresh := write("fresh.tar", ArchiveTTL/2)
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	require.NoError(t, os.Chtimes(sub, now.Add(-2*ArchiveTTL), now.Add(-2*ArchiveTTL)))

	removeUnused(dir, now.Add(-ArchiveTTL))
	require.NoFileExists(t, old)
	require.NoFileExists(t, killed, "a killed save's temporary file goes too")
	require.FileExists(t, fresh)
	require.DirExists(t, sub, "only regular files are removed")

	removeUnused(filepath.Join(dir, "absent"), now) // no dir: nothing to do, no panic
}
