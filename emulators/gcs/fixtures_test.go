package gcs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/gcpiam"
)

func writeFixture(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

const bucketsYAML = `projects:
  - id: idlab
    serviceAccounts: []
    buckets:
      - {name: team-a-data, objects: {hello.txt: hi}}
      - name: team-b-data
`

func TestParseFixtures(t *testing.T) {
	got, err := ParseFixtures(writeFixture(t, bucketsYAML))
	require.NoError(t, err)
	require.Equal(t, []BucketFixture{
		{Project: "idlab", Name: "team-a-data", Objects: map[string]string{"hello.txt": "hi"}},
		{Project: "idlab", Name: "team-b-data"},
	}, got)
}

func TestParseFixturesErrors(t *testing.T) {
	head := "projects:\n  - id: idlab\n"
	for _, tc := range []struct {
		name, body, want string
	}{
		{"bad yaml", "projects: [\n", "f.yaml: yaml:"},
		{"unknown field", head + "    buckets:\n      - name: ok-bucket\n        location: EU\n", `f.yaml:5: bucket: unknown field "location" (known: name, objects)`},
		{"not a mapping", head + "    buckets:\n      - ok-bucket\n", `f.yaml:4: bucket: want a mapping`},
		{"bad bucket name", head + "    buckets:\n      - name: Upper\n", `f.yaml:4: bucket name "Upper"`},
		{"duplicate bucket", head + "    buckets:\n      - name: ok-bucket\n  - id: other\n    buckets:\n      - name: ok-bucket\n", `f.yaml:7: bucket "ok-bucket" is declared twice (first at `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFixtures(writeFixture(t, tc.body))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestLoadFixturesSeedsAndIsIdempotent(t *testing.T) {
	iam, err := gcpiam.New(gcpiam.Options{})
	require.NoError(t, err)
	h, err := New(Options{IAM: iam})
	require.NoError(t, err)
	p := writeFixture(t, bucketsYAML)
	for range 2 { // a restart loads the same fixtures again
		require.NoError(t, h.LoadFixtures(t.Context(), p))
	}
	for _, name := range []string{"team-a-data", "team-b-data"} {
		_, err := h.fake.Backend().GetBucket(name)
		require.NoError(t, err, name)
	}
	obj, err := h.fake.GetObject("team-a-data", "hello.txt")
	require.NoError(t, err)
	require.Equal(t, "hi", string(obj.Content))
	require.ErrorContains(t, h.LoadFixtures(t.Context(), writeFixture(t, "projects: [\n")), "yaml:")
}

// The Google fixtures the lab ships load.
func TestShippedFixtures(t *testing.T) {
	got, err := ParseFixtures(filepath.Join("..", "..", "fixtures", "gcp"))
	require.NoError(t, err)
	require.Len(t, got, 2)
}
