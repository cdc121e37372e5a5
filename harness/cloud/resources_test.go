package cloud

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
)

const resourcesYAML = `accounts:
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

func TestLoadResources(t *testing.T) {
	p := writeFixture(t, resourcesYAML)
	res, err := LoadResources(p, "us-east-1")
	require.NoError(t, err)
	require.Len(t, res.Buckets, 2)
	require.Equal(t, "data-a", res.Buckets[0].Name)
	require.Equal(t, "111111111111", res.Buckets[0].Account)
	require.Equal(t, "us-west-2", res.Buckets[0].Region)
	require.Equal(t, map[string]string{"hello.txt": "hi"}, res.Buckets[0].Objects)
	require.NotNil(t, res.Buckets[0].Policy)
	require.Equal(t, "us-east-1", res.Buckets[1].Region, "default region")
	require.Nil(t, res.Buckets[1].Policy)
	require.Equal(t, []TopicFixture{{Account: "111111111111", Name: "uploads", Region: "us-east-1"}}, res.Topics)

	// IAM reads the same file and leaves buckets and topics alone.
	iam, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtures(p))
}

func TestLoadResourcesErrors(t *testing.T) {
	head := "accounts:\n  - id: \"111111111111\"\n"
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown field", head + "    buckets:\n      - name: ok-bucket\n        acl: public\n", `f.yaml:5: bucket: unknown field "acl"`},
		{"bad bucket name", head + "    buckets:\n      - name: Upper_Case\n", `f.yaml:4: bucket name "Upper_Case"`},
		{"short bucket name", head + "    buckets:\n      - name: ab\n", `f.yaml:4: bucket name "ab"`},
		{"bad region", head + "    buckets:\n      - name: ok-bucket\n        region: mars\n", `f.yaml:4: bucket "ok-bucket": region "mars"`},
		{"bad policy", head + "    buckets:\n      - name: ok-bucket\n        policy: {Statement: []}\n", `f.yaml:5: bucket "ok-bucket" policy:`},
		{"bad topic name", head + "    topics:\n      - name: has space\n", `f.yaml:4: topic name "has space"`},
		{"topic not a mapping", head + "    topics:\n      - uploads\n", `f.yaml:4: topic: want a mapping`},
		{"bad topic policy", head + "    topics:\n      - name: t\n        policy: \"{not json\"\n", `f.yaml:5: topic "t" policy:`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadResources(writeFixture(t, tc.body), "us-east-1")
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// The fixtures the lab ships load in both readers.
func TestShippedFixtures(t *testing.T) {
	dir := filepath.Join("..", "..", "fixtures", "aws")
	iam, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtures(dir))
	res, err := LoadResources(dir, "us-west-2")
	require.NoError(t, err)
	var names []string
	for _, b := range res.Buckets {
		names = append(names, b.Name)
	}
	require.Contains(t, names, "app-a-data")
	require.Contains(t, names, "app-b-data")
}
