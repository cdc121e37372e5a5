package irsawebhook

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/idlab/idlab/internal/admissiontest"
)

// upstreamCommit is the aws/amazon-eks-pod-identity-webhook commit whose
// test tables the Upstream* tests restate, case for case.
const upstreamCommit = "3bf80a348116483b2162190e43232e4d243f76c4"

// upstreamCase is one case of an upstream test table as idlab runs it: its
// name (the fixture's upstream path, or Test/subtest) and, when idlab
// answers differently on purpose, the id of the row of the differences
// table in doc.go that says so ("" = identical).
type upstreamCase struct {
	name, diff string
}

// upstreamFixture is one testdata/upstream file: a case of upstream's
// TestUpdatePodSpec (pkg/handler/handler_pod_test.go) restated as the
// ServiceAccount default/default, the webhook options and the pod, with
// upstream's expected patch.
type upstreamFixture struct {
	Upstream string `json:"upstream"`
	Options  struct {
		Region               string `json:"region"`
		ContainerCredentials *struct {
			FullURI    string `json:"fullURI"`
			Audience   string `json:"audience"`
			MountPath  string `json:"mountPath"`
			VolumeName string `json:"volumeName"`
			TokenPath  string `json:"tokenPath"`
		} `json:"containerCredentials"`
	} `json:"options"`
	ServiceAccount map[string]string `json:"serviceAccount"`
	Pod            json.RawMessage   `json:"pod"`
	Patch          string            `json:"patch"`
	// Difference and IDLabPatch are set when idlab's patch differs on
	// purpose: the doc.go row and idlab's patch.
	Difference string `json:"difference"`
	IDLabPatch string `json:"idlabPatch"`
}

func upstreamFixtures(t *testing.T) map[string]upstreamFixture {
	t.Helper()
	out := map[string]upstreamFixture{}
	err := filepath.WalkDir(filepath.Join("testdata", "upstream"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Contains(t, string(raw), upstreamCommit, "%s cites the upstream commit", path)
		var f upstreamFixture
		require.NoError(t, yaml.UnmarshalStrict(raw, &f), path)
		require.NotEmpty(t, f.Patch, path)
		require.Equal(t, f.Difference == "", f.IDLabPatch == "", "%s: a difference needs idlab's patch", path)
		out[path] = f
		return nil
	})
	require.NoError(t, err)
	return out
}

// TestUpstreamPodSpec runs every case of upstream's TestUpdatePodSpec
// (pkg/handler/testdata/*.pod.yaml, 24 files) through Mutate, as upstream
// sets them up: ServiceAccount default/default in namespace default, no SA
// lookup wait, a jitter source that draws 0. The patch must be upstream's
// byte for byte, or idlab's recorded one for a listed difference.
func TestUpstreamPodSpec(t *testing.T) {
	fixtures := upstreamFixtures(t)
	require.Len(t, fixtures, 24, "upstream has 24 testdata cases at %s", upstreamCommit)
	for path, f := range fixtures {
		t.Run(f.Upstream, func(t *testing.T) {
			opts := Options{Region: f.Options.Region}
			if cc := f.Options.ContainerCredentials; cc != nil {
				file := filepath.Join(t.TempDir(), "config.json")
				require.NoError(t, os.WriteFile(file, []byte(`{"identities":[{"namespace":"default","serviceAccount":"default"}]}`), 0o600))
				opts.ContainerCredentials = ContainerCredentialsOptions{ConfigFile: file, FullURI: cc.FullURI, Audience: cc.Audience,
					MountPath: cc.MountPath, VolumeName: cc.VolumeName, TokenPath: cc.TokenPath,
					Rand: func(int64) int64 { return 0 }}
			}
			sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default", Annotations: f.ServiceAccount}}
			h, _ := newTestHandler(t, opts, sa)
			resp := h.Mutate(t.Context(), admissiontest.PodRequest("u", "default", "", f.Pod))
			require.True(t, resp.Allowed, path)
			if f.Difference == "" {
				require.Equal(t, f.Patch, string(resp.Patch), path)
				return
			}
			require.NotEqual(t, f.Patch, string(resp.Patch), "%s: idlab now matches upstream; drop difference %q", path, f.Difference)
			require.Equal(t, f.IDLabPatch, string(resp.Patch), path)
		})
	}
}

// upstreamCases lists every upstream case idlab runs, with its difference.
func upstreamCases(t *testing.T) []upstreamCase {
	t.Helper()
	var out []upstreamCase
	for _, f := range upstreamFixtures(t) {
		out = append(out, upstreamCase{name: strings.TrimPrefix(f.Upstream, "pkg/handler/"), diff: f.Difference})
	}
	out = append(out, upstreamHandlerCases()...)
	out = append(out, upstreamCacheCases()...)
	out = append(out, upstreamContainerCredentialsCases()...)
	return out
}

// diffRow is one row of the differences table in doc.go.
type diffRow struct {
	id    string
	cases []string
}

// docDifferences reads the differences table of doc.go: rows
// "| id | cases | upstream | idlab | why |", cases separated by "; " or
// "none".
func docDifferences(t *testing.T) []diffRow {
	t.Helper()
	raw, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	row := regexp.MustCompile(`^//\t\| ([a-z0-9-]+) \| ([^|]+) \|[^|]+\|[^|]+\|[^|]+\|$`)
	var rows []diffRow
	for _, line := range strings.Split(string(raw), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil || m[1] == "id" {
			continue
		}
		r := diffRow{id: m[1]}
		if cases := strings.TrimSpace(m[2]); cases != "none" {
			r.cases = strings.Split(cases, "; ")
		}
		rows = append(rows, r)
	}
	require.NotEmpty(t, rows, "doc.go has a differences table")
	return rows
}

// TestUpstreamDifferencesDocumented: the upstream cases that idlab answers
// differently are exactly the ones doc.go's table names, each under the
// row its case says.
func TestUpstreamDifferencesDocumented(t *testing.T) {
	rows := docDifferences(t)
	ids := map[string]bool{}
	documented := map[string]string{} // case -> row
	for _, r := range rows {
		require.False(t, ids[r.id], "row %q twice", r.id)
		ids[r.id] = true
		for _, c := range r.cases {
			documented[c] = r.id
		}
	}
	cases := upstreamCases(t)
	differing := map[string]string{}
	names := map[string]bool{}
	for _, c := range cases {
		require.False(t, names[c.name], "case %q twice", c.name)
		names[c.name] = true
		if c.diff != "" {
			require.True(t, ids[c.diff], "case %q names row %q, which doc.go lacks", c.name, c.diff)
			differing[c.name] = c.diff
		}
	}
	require.Equal(t, differing, documented)

	identical := len(cases) - len(differing)
	keys := make([]string, 0, len(differing))
	for k := range differing {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("upstream cases at %s: %d run, %d identical, %d deliberate differences: %v", upstreamCommit[:7], len(cases), identical, len(differing), keys)
}
