package awssns

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
)

func writeFixture(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

const topicsYAML = `accounts:
  - id: "111111111111"
    buckets:
      - name: data-a
    topics:
      - name: uploads
      - name: events.fifo
        region: us-west-2
        policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sns:Publish","Resource":"*"}]}'
`

func TestParseFixtures(t *testing.T) {
	got, err := ParseFixtures(writeFixture(t, topicsYAML), "us-east-1")
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, TopicFixture{Account: "111111111111", Name: "uploads", Region: "us-east-1"}, got[0])
	require.Equal(t, "us-west-2", got[1].Region)
	require.NotNil(t, got[1].Policy)
}

func TestParseFixturesErrors(t *testing.T) {
	head := "accounts:\n  - id: \"111111111111\"\n"
	for _, tc := range []struct {
		name, body, want string
	}{
		{"bad yaml", "accounts: [\n", "f.yaml: yaml:"},
		{"unknown field", head + "    topics:\n      - name: t\n        fifo: true\n", `f.yaml:5: topic: unknown field "fifo" (known: name, region, policy)`},
		{"bad topic name", head + "    topics:\n      - name: has space\n", `f.yaml:4: topic name "has space"`},
		{"topic not a mapping", head + "    topics:\n      - uploads\n", `f.yaml:4: topic: want a mapping`},
		{"bad region", head + "    topics:\n      - name: t\n        region: mars\n", `f.yaml:4: topic "t": region "mars"`},
		{"bad topic policy", head + "    topics:\n      - name: t\n        policy: \"{not json\"\n", `f.yaml:5: topic "t" policy:`},
		{"duplicate topic", head + "    topics:\n      - name: t\n      - name: t\n", `f.yaml:5: topic "t" of account 111111111111 in us-east-1 is declared twice (first at `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFixtures(writeFixture(t, tc.body), "us-east-1")
			require.ErrorContains(t, err, tc.want)
		})
	}
	// The same name in another account or region is another topic.
	ok := head + "    topics:\n      - name: t\n      - name: t\n        region: eu-west-1\n  - id: \"222222222222\"\n    topics:\n      - name: t\n"
	got, err := ParseFixtures(writeFixture(t, ok), "us-east-1")
	require.NoError(t, err)
	require.Len(t, got, 3)
}

func TestLoadFixturesSeedsAndIsIdempotent(t *testing.T) {
	iam, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	h, err := New(Options{IAM: iam, Region: "eu-west-1"})
	require.NoError(t, err)
	t.Cleanup(h.Close)
	p := writeFixture(t, topicsYAML)
	for range 2 { // a restart loads the same fixtures again
		require.NoError(t, h.LoadFixtures(t.Context(), p))
	}
	var arns []string
	h.store.view(func(st *state) {
		for arn := range st.Topics {
			arns = append(arns, arn)
		}
	})
	require.ElementsMatch(t, []string{"arn:aws:sns:eu-west-1:111111111111:uploads", "arn:aws:sns:us-west-2:111111111111:events.fifo"}, arns)

	require.ErrorContains(t, h.LoadFixtures(t.Context(), writeFixture(t, "accounts: [\n")), "yaml:")
}
