package eksauth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/eksauth"
)

func newHandler(t *testing.T, dataDir string) *eksauth.Handler {
	t.Helper()
	iam, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	h, err := eksauth.New(eksauth.Options{IAM: iam, Region: region, DataDir: dataDir})
	require.NoError(t, err)
	return h
}

func TestLoadFixturesErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"unknown top-level field", "clusters: []\nassociations: []\n", "f.yaml:2: unknown field \"associations\""},
		{"unknown cluster field", "clusters:\n  - name: lab\n    account: \"111111111111\"\n    issuer: https://x\n", "f.yaml:4: unknown field \"issuer\""},
		{"bad account", "clusters:\n  - name: lab\n    account: \"1\"\n    issuerURL: https://x\n", "f.yaml:2: add cluster \"lab\": invalid: account \"1\" is not a 12-digit account ID"},
		{"association for unknown cluster", "podIdentityAssociations:\n  - {clusterName: nope, namespace: a, serviceAccount: b, roleArn: \"arn:aws:iam::111111111111:role/r\"}\n", "f.yaml:2: "},
		{"duplicate association", `clusters: [{name: lab, account: "111111111111", issuerURL: "https://x"}]
podIdentityAssociations:
  - {clusterName: lab, namespace: a, serviceAccount: b, roleArn: "arn:aws:iam::111111111111:role/r"}
  - {clusterName: lab, namespace: a, serviceAccount: b, roleArn: "arn:aws:iam::111111111111:role/s"}
`, "f.yaml:4: "},
		{"bad role ARN", "clusters: [{name: lab, account: \"111111111111\", issuerURL: \"https://x\"}]\npodIdentityAssociations:\n  - {clusterName: lab, namespace: a, serviceAccount: b, roleArn: role/r}\n", "f.yaml:3: "},
		{"not YAML", "clusters: [\n", "f.yaml:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := newHandler(t, "").LoadFixtureYAML("f.yaml", []byte(tc.yaml))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			var fe *eksauth.FixtureError
			require.True(t, errors.As(err, &fe))
		})
	}
}

func TestFixtureSentinels(t *testing.T) {
	h := newHandler(t, "")
	require.NoError(t, h.AddCluster(eksauth.Cluster{Name: "lab", Account: acctA, IssuerURL: issuerURL}))
	require.ErrorIs(t, h.AddCluster(eksauth.Cluster{Name: "lab", Account: acctA, IssuerURL: issuerURL}), eksauth.ErrConflict)
	_, err := h.AddAssociation(eksauth.Association{ClusterName: "x", Namespace: "a", ServiceAccount: "b", RoleARN: "arn:aws:iam::111111111111:role/r"})
	require.ErrorIs(t, err, eksauth.ErrNotFound)
	a, err := h.AddAssociation(eksauth.Association{ClusterName: "lab", Namespace: "a", ServiceAccount: "b", RoleARN: "arn:aws:iam::111111111111:role/r",
		TargetRoleARN: "arn:aws:iam::222222222222:role/t"})
	require.NoError(t, err)
	require.Regexp(t, `^a-[0-9a-z]{17}$`, a.ID)
	require.Regexp(t, `^[0-9a-f-]{36}$`, a.ExternalID)
	require.Equal(t, "arn:aws:eks:us-west-2:111111111111:podidentityassociation/lab/"+a.ID, a.ARN)
}

func TestStatePersists(t *testing.T) {
	dir := t.TempDir()
	h := newHandler(t, dir)
	f := filepath.Join(t.TempDir(), "eks.yaml")
	require.NoError(t, os.WriteFile(f, []byte(eksFixture), 0o600))
	require.NoError(t, h.LoadFixtures(f))
	again := newHandler(t, dir)
	require.Equal(t, h.Clusters(), again.Clusters())
	require.Equal(t, h.Associations(), again.Associations())
	require.Len(t, again.Associations(), 6)
}

// TestFixturesReloadOverDataDir: an emulator restarted over its DataDir
// loads the same fixtures again without a conflict, and a changed one is
// still refused.
func TestFixturesReloadOverDataDir(t *testing.T) {
	iam, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	dir := t.TempDir()
	const fx = `clusters:
  - {name: lab, account: "111111111111", issuerURL: "https://oidc.example/id/1"}
podIdentityAssociations:
  - {clusterName: lab, namespace: a, serviceAccount: app, roleArn: "arn:aws:iam::111111111111:role/app"}
  - {clusterName: lab, namespace: a, serviceAccount: fixed, roleArn: "arn:aws:iam::111111111111:role/app", id: a-0123456789abcdefg}
`
	h, err := eksauth.New(eksauth.Options{IAM: iam, DataDir: dir, Region: "us-west-2"})
	require.NoError(t, err)
	require.NoError(t, h.LoadFixtureYAML("f.yaml", []byte(fx)))
	first := h.Associations()

	h2, err := eksauth.New(eksauth.Options{IAM: iam, DataDir: dir, Region: "us-west-2"})
	require.NoError(t, err)
	require.NoError(t, h2.LoadFixtureYAML("f.yaml", []byte(fx)))
	require.Equal(t, first, h2.Associations())

	h3, err := eksauth.New(eksauth.Options{IAM: iam, DataDir: dir, Region: "us-west-2"})
	require.NoError(t, err)
	changed := strings.Replace(fx, "role/app\", id:", "role/other\", id:", 1)
	require.ErrorIs(t, h3.LoadFixtureYAML("f.yaml", []byte(changed)), eksauth.ErrConflict)
}
