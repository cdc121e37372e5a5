package labfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const head = "apiVersion: idlab.dev/v1alpha1\nkind: Lab\n"

func TestParse(t *testing.T) {
	f, err := Parse("idlab.yaml", []byte(head+`clusters:
  - name: prod-eu
    flavour: eks
    issuer: https://oidc.eks.eu-central-1.amazonaws.com/id/ABC123
    region: eu-central-1
    account: "111122223333"
    nodeRole: arn:aws:iam::111122223333:role/nodes
    nodes: 1
    components:
      kube2iam: off
      lab-ca: on
  - name: gke
    flavour: gke
    region: us-central1
    project: my-project
  - name: aks
    flavour: aks
    region: westus2
    tenant: 6F1C2B3A-4D5E-4F60-8A7B-9C0D1E2F3A4B
    components: {}
`))
	require.NoError(t, err)
	require.Equal(t, &File{Name: "idlab.yaml", Clusters: []Cluster{
		{Name: "prod-eu", Flavour: EKS, Issuer: "https://oidc.eks.eu-central-1.amazonaws.com/id/ABC123", Region: "eu-central-1",
			Account: "111122223333", NodeRole: "arn:aws:iam::111122223333:role/nodes", Nodes: 1, Line: 4,
			Components: []Toggle{{Name: "kube2iam", On: false, Line: 12}, {Name: "lab-ca", On: true, Line: 13}}},
		{Name: "gke", Flavour: GKE, Region: "us-central1", Project: "my-project", Nodes: 1, Line: 14},
		{Name: "aks", Flavour: AKS, Region: "westus2", Tenant: "6F1C2B3A-4D5E-4F60-8A7B-9C0D1E2F3A4B", Nodes: 1, Line: 18},
	}}, f)
}

// TestParseNodes: nodes, pinnedWorkers and nodeRoles as written, and
// their defaults (one node, not pinned, no per-node roles).
func TestParseNodes(t *testing.T) {
	doc := func(body string) string {
		return head + "clusters:\n  - name: m\n    flavour: eks\n    region: us-west-2\n" + body
	}
	tests := []struct {
		name, body string
		want       Cluster
	}{
		{name: "defaults", want: Cluster{Nodes: 1}},
		{name: "null nodes", body: "    nodes:\n", want: Cluster{Nodes: 1}},
		{name: "one", body: "    nodes: 1\n", want: Cluster{Nodes: 1}},
		{name: "max", body: "    nodes: 8\n", want: Cluster{Nodes: 8}},
		{name: "two pinned", body: "    nodes: 2\n    pinnedWorkers: true\n", want: Cluster{Nodes: 2, PinnedWorkers: true}},
		{name: "two not pinned", body: "    nodes: 2\n    pinnedWorkers: false\n", want: Cluster{Nodes: 2}},
		{name: "pinned false on one node", body: "    pinnedWorkers: false\n", want: Cluster{Nodes: 1}},
		{name: "node roles", body: "    nodes: 2\n    nodeRoles:\n      - arn:aws:iam::111122223333:role/a\n      - arn:aws:iam::111122223333:role/b\n",
			want: Cluster{Nodes: 2, NodeRoles: []string{"arn:aws:iam::111122223333:role/a", "arn:aws:iam::111122223333:role/b"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("idlab.yaml", []byte(doc(tc.body)))
			require.NoError(t, err)
			c := f.Clusters[0]
			require.Equal(t, tc.want, Cluster{Nodes: c.Nodes, PinnedWorkers: c.PinnedWorkers, NodeRoles: c.NodeRoles})
		})
	}
}

// TestParseRefuses names every mistake with its line and what to write
// instead.
func TestParseRefuses(t *testing.T) {
	cluster := func(body string) string { return head + "clusters:\n  - name: c1\n" + body }
	eks := func(body string) string { return cluster("    flavour: eks\n    region: eu-central-1\n" + body) }
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "idlab.yaml:0: empty lab file"},
		{"null", "---\n", "empty lab file"},
		{"not yaml", "clusters: [", "idlab.yaml:1: yaml:"},
		{"two documents", head + "clusters: [{name: a, flavour: eks, region: r}]\n---\nkind: Lab\n", "idlab.yaml:4: a lab file holds one document"},
		{"not a mapping", "- a\n", "idlab.yaml:1: want a mapping"},
		{"unknown top field", head + "cluster: []\n", `idlab.yaml:3: unknown field "cluster"`},
		{"no apiVersion", "kind: Lab\nclusters: []\n", `idlab.yaml:1: apiVersion "": want idlab.dev/v1alpha1`},
		{"wrong apiVersion", "apiVersion: idlab.dev/v2\nkind: Lab\n", `apiVersion "idlab.dev/v2"`},
		{"wrong kind", "apiVersion: idlab.dev/v1alpha1\nkind: Cluster\n", `kind "Cluster": want Lab`},
		{"no clusters", head, "idlab.yaml:1: clusters: the lab needs at least one cluster"},
		{"clusters not a list", head + "clusters: eks\n", "idlab.yaml:3:"},
		{"cluster not a mapping", head + "clusters:\n  - eks\n", "idlab.yaml:4: want a mapping"},
		{"cluster null", head + "clusters:\n  -\n", "a cluster is a mapping"},
		{"unknown cluster field", eks("    issuerURL: https://x.example.com\n"), `idlab.yaml:7: unknown field "issuerURL"`},
		{"duplicate key", eks("    region: us-east-1\n"), "already defined"},
		{"no name", head + "clusters:\n  - flavour: eks\n", "idlab.yaml:4: a cluster needs a name"},
		{"bad name", head + "clusters:\n  - name: Prod_EU\n", `cluster name "Prod_EU"`},
		{"name too long", head + "clusters:\n  - name: " + strings.Repeat("a", 33) + "\n", "want 1 to 32 lower-case letters"},
		{"no flavour", cluster("    region: r\n"), `idlab.yaml:4: cluster "c1" needs a flavour: eks, gke, aks`},
		{"unknown flavour", cluster("    flavour: openshift\n    region: r\n"), `flavour "openshift": want eks, gke, aks`},
		{"no region", cluster("    flavour: eks\n"), `cluster "c1" needs a region`},
		{"empty region", cluster("    flavour: eks\n    region: \"\"\n"), "needs a region"},
		{"bad region", cluster("    flavour: eks\n    region: EU Central\n"), `region "EU Central"`},
		{"zero nodes", eks("    nodes: 0\n"), `idlab.yaml:7: cluster "c1": nodes: 0: want 1 to 8`},
		{"negative nodes", eks("    nodes: -1\n"), "nodes: -1: want 1 to 8"},
		{"too many nodes", eks("    nodes: 9\n"), "nodes: 9: want 1 to 8 (the first node is the control plane"},
		{"nodes not a number", eks("    nodes: two\n"), `idlab.yaml:7: cluster "c1": nodes: "two": want a whole number of nodes from 1 to 8`},
		{"nodes a fraction", eks("    nodes: 1.5\n"), `nodes: "1.5": want a whole number`},
		{"nodes a quoted number", eks("    nodes: \"2\"\n"), `nodes: "2": want a whole number`},
		{"nodes a list", eks("    nodes: [2]\n"), "want a whole number"},
		{"pinned on one node", eks("    pinnedWorkers: true\n"), `idlab.yaml:7: cluster "c1": pinnedWorkers: true needs nodes: 2 or more`},
		{"pinned not a bool", eks("    nodes: 2\n    pinnedWorkers: some\n"), "idlab.yaml:8: cluster \"c1\": pinnedWorkers: want true or false"},
		{"node roles not a list", eks("    nodes: 2\n    nodeRoles: arn:aws:iam::111122223333:role/n\n"), "idlab.yaml:8: cluster \"c1\": nodeRoles: want a list of role ARNs"},
		{"node roles too few", eks("    nodes: 2\n    nodeRoles: [arn:aws:iam::111122223333:role/n]\n"), "nodeRoles: 1 roles for 2 nodes: want one per node"},
		{"node roles too many", eks("    nodeRoles: [arn:aws:iam::111122223333:role/a, arn:aws:iam::111122223333:role/b]\n"), "nodeRoles: 2 roles for 1 nodes"},
		{"node roles and node role", eks("    nodes: 2\n    nodeRole: arn:aws:iam::111122223333:role/n\n    nodeRoles: [arn:aws:iam::111122223333:role/a, arn:aws:iam::111122223333:role/b]\n"), "nodeRole and nodeRoles: give one"},
		{"node roles bad ARN", eks("    nodes: 2\n    nodeRoles:\n      - arn:aws:iam::111122223333:role/a\n      - eks-node\n"), `idlab.yaml:10: cluster "c1": nodeRoles: "eks-node": want a role ARN`},
		{"node roles on gke", cluster("    flavour: gke\n    region: r\n    nodeRoles: [arn:aws:iam::111122223333:role/a]\n"), "nodeRoles is for eks clusters"},
		{"issuer http", eks("    issuer: http://oidc.example.com/id/A\n"), "want an https URL"},
		{"issuer no host", eks("    issuer: https:///id/A\n"), "has no host"},
		{"issuer port", eks("    issuer: https://oidc.example.com:8443/id/A\n"), "no port"},
		{"issuer query", eks("    issuer: https://oidc.example.com/id/A?x=1\n"), "no query or fragment"},
		{"issuer fragment", eks("    issuer: https://oidc.example.com/id/A#x\n"), "no query or fragment"},
		{"issuer user", eks("    issuer: https://u@oidc.example.com/id/A\n"), "no user info"},
		{"issuer ip", eks("    issuer: https://10.0.0.1/id/A\n"), "not an IP address"},
		{"issuer a service", eks("    issuer: https://kubernetes.default.svc\n"), "is the cluster's own"},
		{"issuer a service's full name", eks("    issuer: https://api.default.svc.cluster.local/x\n"), "is the cluster's own"},
		{"issuer the metadata server", eks("    issuer: https://metadata.google.internal/x\n"), "is the cluster's own"},
		{"issuer single label", eks("    issuer: https://issuer/id/A\n"), "has no domain"},
		{"issuer not a url", eks("    issuer: \"https://a b.example.com\"\n"), "is not a URL"},
		{"account not 12 digits", eks("    account: \"1234\"\n"), `account "1234": want 12 digits`},
		{"account on gke", cluster("    flavour: gke\n    region: us-central1\n    account: \"111122223333\"\n"), "account is for eks clusters"},
		{"project on eks", eks("    project: p-1\n"), "project is for gke clusters"},
		{"tenant on gke", cluster("    flavour: gke\n    region: r\n    tenant: 6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b\n"), "tenant is for aks clusters"},
		{"nodeRole on aks", cluster("    flavour: aks\n    region: r\n    nodeRole: arn:aws:iam::111122223333:role/n\n"), "nodeRole is for eks clusters"},
		{"bad project", cluster("    flavour: gke\n    region: r\n    project: My_Project\n"), `project "My_Project"`},
		{"bad tenant", cluster("    flavour: aks\n    region: r\n    tenant: contoso\n"), `tenant "contoso": want an Entra tenant ID`},
		{"bad node role", eks("    nodeRole: eks-node\n"), `nodeRole "eks-node": want a role ARN`},
		{"components a list", eks("    components: [kube2iam]\n"), "idlab.yaml:7: components: want a mapping"},
		{"component not on/off", eks("    components:\n      kube2iam: maybe\n"), "idlab.yaml:8: components: kube2iam: want on or off"},
		{"component value a map", eks("    components:\n      kube2iam: {on: true}\n"), "want on or off"},
		{"component bad name", eks("    components:\n      Kube2IAM: off\n"), `components: "Kube2IAM" is not a component name`},
		{"component twice", eks("    components:\n      kube2iam: off\n      kube2iam: on\n"), "idlab.yaml:9: components: kube2iam is listed twice (first at line 8)"},
		{"duplicate cluster", head + "clusters:\n  - {name: a, flavour: eks, region: r}\n  - {name: a, flavour: gke, region: r}\n",
			`idlab.yaml:5: cluster "a" is declared twice (first at line 4)`},
		{"shared issuer", head + "clusters:\n  - {name: a, flavour: eks, region: r, issuer: \"https://i.example.com/x\"}\n  - {name: b, flavour: eks, region: r, issuer: \"https://i.example.com/x/\"}\n",
			`cluster "b": issuer https://i.example.com/x/ is also cluster "a"'s`},
		{"too large", head + "# " + strings.Repeat("x", MaxSize), "larger than"},
		{"context without kubeconfig", eks("    context: kind-x\n"), "context is for an existing cluster"},
		{"kindCluster without kubeconfig", eks("    kindCluster: x\n"), "kindCluster is for an existing cluster"},
		{"existing with an issuer", eks("    kubeconfig: k.yaml\n    issuer: https://oidc.example.com/id/A\n"), "keeps its own issuer"},
		{"existing with a node role", eks("    kubeconfig: k.yaml\n    nodeRole: arn:aws:iam::111122223333:role/n\n"), "no instance metadata on an existing cluster"},
		{"existing with a bad kind name", eks("    kubeconfig: k.yaml\n    kindCluster: Idlab_X\n"), `kindCluster "Idlab_X"`},
		{"existing with a two-line context", eks("    kubeconfig: k.yaml\n    context: \"a\\nb\"\n"), "one line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("idlab.yaml", []byte(tc.doc))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "idlab.yaml:"), "every error is located: %v", err)
		})
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "idlab.yaml")
	require.NoError(t, os.WriteFile(p, []byte(head+"clusters: [{name: a, flavour: aks, region: westus2}]\n"), 0o644))
	f, err := Load(p)
	require.NoError(t, err)
	require.Equal(t, p, f.Name)
	require.Len(t, f.Clusters, 1)
	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorContains(t, err, "lab file:")
}

// TestExampleParses: the example in examples/ is a valid lab file.
func TestExampleParses(t *testing.T) {
	f, err := Load("../../examples/idlab.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, f.Clusters)
}

// FuzzParse: any input either parses into clusters that keep the rules
// Parse promises, or fails with a located error; never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(head + "clusters:\n  - {name: a, flavour: eks, region: eu-central-1, issuer: \"https://oidc.eks.eu-central-1.amazonaws.com/id/ABC123\", account: \"111122223333\"}\n"))
	f.Add([]byte(head + "clusters:\n  - name: g\n    flavour: gke\n    region: us-central1\n    components: {gtoken: off}\n"))
	f.Add([]byte(head + "clusters:\n  - &a {name: a, flavour: eks, region: r}\n  - *a\n"))
	f.Add([]byte(head + "clusters:\n  - {name: m, flavour: eks, region: r, nodes: 2, pinnedWorkers: true, nodeRoles: [\"arn:aws:iam::111122223333:role/a\", \"arn:aws:iam::111122223333:role/b\"]}\n"))
	f.Add([]byte(head + "clusters:\n  - {name: m, flavour: gke, region: r, nodes: 0x3}\n"))
	f.Add([]byte("clusters: [[[]]]"))
	f.Add([]byte("{"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		lf, err := Parse("f.yaml", raw)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "f.yaml:"), "unlocated error %v", err)
			return
		}
		require.NotEmpty(t, lf.Clusters)
		names := map[string]bool{}
		for _, c := range lf.Clusters {
			require.Regexp(t, clusterNameRe, c.Name)
			require.False(t, names[c.Name], "duplicate %s", c.Name)
			names[c.Name] = true
			require.True(t, isFlavour(c.Flavour), c.Flavour)
			require.NotEmpty(t, c.Region)
			require.GreaterOrEqual(t, c.Nodes, 1)
			require.LessOrEqual(t, c.Nodes, MaxNodes)
			require.False(t, c.PinnedWorkers && c.Nodes < 2, "pinned workers need a worker")
			if len(c.NodeRoles) > 0 {
				require.Len(t, c.NodeRoles, c.Nodes)
				require.Empty(t, c.NodeRole)
				require.Equal(t, EKS, c.Flavour)
				for _, r := range c.NodeRoles {
					require.Regexp(t, roleARNRe, r)
				}
			}
			if c.Issuer != "" {
				require.NoError(t, CheckIssuer(c.Issuer))
			}
			require.NoError(t, checkAccount(c))
		}
	})
}

// TestCheckIssuerAccepts: the issuers of the managed services and any
// other host cluster DNS can route.
func TestCheckIssuerAccepts(t *testing.T) {
	for _, iss := range []string{
		"https://oidc.eks.eu-central-1.amazonaws.com/id/ABC123",
		"https://container.googleapis.com/v1/projects/p/locations/europe-west1/clusters/c",
		"https://westus2.oic.prod-aks.azure.com/6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b/x/",
		"https://token.actions.githubusercontent.com",
		"https://oidc.corp.internal/k8s/prod",
		"https://issuer.example.com",
	} {
		require.NoError(t, CheckIssuer(iss), iss)
	}
}

// TestParseExisting: a cluster with a kubeconfig is an existing one, its
// context and kind name kept as written.
func TestParseExisting(t *testing.T) {
	f, err := Parse("idlab.yaml", []byte(head+`clusters:
  - name: existing
    flavour: eks
    region: us-west-2
    kubeconfig: kubeconfig-existing.yaml
    context: kind-idlab-existing
    kindCluster: idlab-existing
    components:
      kube2iam: off
`))
	require.NoError(t, err)
	require.Equal(t, []Cluster{{Name: "existing", Flavour: EKS, Region: "us-west-2", Nodes: 1, Line: 4,
		Kubeconfig: "kubeconfig-existing.yaml", Context: "kind-idlab-existing", KindCluster: "idlab-existing",
		Components: []Toggle{{Name: "kube2iam", On: false, Line: 11}}}}, f.Clusters)
}
