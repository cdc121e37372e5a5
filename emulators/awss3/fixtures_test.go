package awss3

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
)

const bucketsYAML = `accounts:
  - id: "111111111111"
    roles:
      - name: app
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "111111111111"}, Action: "sts:AssumeRole"}]}
    buckets:
      - name: data-a
        region: us-west-2
        objects: {hello.txt: "hi"}
        policy:
          Version: 2012-10-17
          Statement:
            - Effect: Allow
              Principal: {AWS: "arn:aws:iam::222222222222:root"}
              Action: s3:GetObject
              Resource: arn:aws:s3:::data-a/*
      - name: data-b
    topics:
      - name: uploads
`

func writeFixture(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestParseFixtures(t *testing.T) {
	p := writeFixture(t, bucketsYAML)
	got, err := ParseFixtures(p, "us-east-1")
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "data-a", got[0].Name)
	require.Equal(t, "111111111111", got[0].Account)
	require.Equal(t, "us-west-2", got[0].Region)
	require.Equal(t, map[string]string{"hello.txt": "hi"}, got[0].Objects)
	require.NotNil(t, got[0].Policy)
	require.Equal(t, "us-east-1", got[1].Region, "default region")
	require.Nil(t, got[1].Policy)

	// IAM reads the same file and leaves buckets and topics alone.
	iam, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtures(p))
}

func TestParseFixturesErrors(t *testing.T) {
	head := "accounts:\n  - id: \"111111111111\"\n"
	for _, tc := range []struct {
		name, body, want string
	}{
		{"bad yaml", "accounts: [\n", "f.yaml: yaml:"},
		{"unknown field", head + "    buckets:\n      - name: ok-bucket\n        acl: public\n", `f.yaml:5: bucket: unknown field "acl" (known: name, region, policy, objects)`},
		{"not a mapping", head + "    buckets:\n      - ok-bucket\n", `f.yaml:4: bucket: want a mapping`},
		{"bad bucket name", head + "    buckets:\n      - name: Upper_Case\n", `f.yaml:4: bucket name "Upper_Case"`},
		{"short bucket name", head + "    buckets:\n      - name: ab\n", `f.yaml:4: bucket name "ab"`},
		{"bad region", head + "    buckets:\n      - name: ok-bucket\n        region: mars\n", `f.yaml:4: bucket "ok-bucket": region "mars"`},
		{"bad policy", head + "    buckets:\n      - name: ok-bucket\n        policy: {Statement: []}\n", `f.yaml:5: bucket "ok-bucket" policy:`},
		{"duplicate bucket", head + "    buckets:\n      - name: ok-bucket\n  - id: \"222222222222\"\n    buckets:\n      - name: ok-bucket\n", `f.yaml:7: bucket "ok-bucket" is declared twice (first at `},
		{"missing file", "", "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFixture(t, tc.body)
			if tc.body == "" {
				p = filepath.Join(filepath.Dir(p), "absent.yaml")
			}
			_, err := ParseFixtures(p, "us-east-1")
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestLoadFixturesSeedsAndIsIdempotent(t *testing.T) {
	iam, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	h, err := New(Options{IAM: iam, Region: "eu-west-1"})
	require.NoError(t, err)
	p := writeFixture(t, bucketsYAML)
	for range 2 { // a restart loads the same fixtures again
		require.NoError(t, h.LoadFixtures(t.Context(), p))
	}
	a, err := h.store.Bucket(t.Context(), "data-a")
	require.NoError(t, err)
	require.Equal(t, "111111111111", a.Owner)
	require.Equal(t, "us-west-2", a.Region)
	require.NotEmpty(t, a.Policy)
	b, err := h.store.Bucket(t.Context(), "data-b")
	require.NoError(t, err)
	require.Equal(t, "eu-west-1", b.Region, "Options.Region is the default")
	body, err := h.GetObject(t.Context(), "data-a", "hello.txt")
	require.NoError(t, err)
	require.Equal(t, "hi", string(body))

	require.ErrorContains(t, h.LoadFixtures(t.Context(), writeFixture(t, "accounts:\n  - id: \"111111111111\"\n    buckets:\n      - name: ab\n")), `bucket name "ab"`)
}

// The fixtures the lab ships load in both readers.
func TestShippedFixtures(t *testing.T) {
	dir := filepath.Join("..", "..", "fixtures", "aws")
	iam, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtures(dir))
	got, err := ParseFixtures(dir, "us-west-2")
	require.NoError(t, err)
	var names []string
	for _, b := range got {
		names = append(names, b.Name)
	}
	require.Contains(t, names, "app-a-data")
	require.Contains(t, names, "app-b-data")
}
