package trustboundary

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/trustboundary"
	"github.com/idlab/idlab/idlabtest"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// The suite's names, shared by its e2e rows and the tests of them here.
const (
	namespace = "idlab-trustboundary"
	account   = "123456789012"
	roleARN   = "arn:aws:iam::" + account + ":role/trustboundary-app"
	bucket    = "trustboundary-data"
	key       = "_idlab/probe.txt"
)

// labCloud is the composed cloud with the lab's AWS, Google and Azure
// fixtures and the eks cluster's issuer.
func labCloud(t *testing.T) *idlabtest.Cloud {
	return idlabtest.NewCloud(t, idlabtest.CloudOptions{AWSFixtures: fixturecheck.Path(t, "aws/lab.yaml"), GCPFixtures: fixturecheck.Path(t, "gcp"),
		AzureFixtures: fixturecheck.Path(t, "azure"), Issuers: []string{fixturecheck.Issuer("eks")}})
}

// TestWorkloadCannotUseTheAdminAPI is the test of the suite's rows (no
// //go:build e2e: make test runs it): the admin requests its pod sends get
// each cloud's own answer on the cloud listener and change nothing; sent to
// the admin API, they do what they did on the old router, so the list is
// made of real admin requests. (harness/cloud checks the admin listener
// refuses them without the secret.)
func TestWorkloadCannotUseTheAdminAPI(t *testing.T) {
	c := labCloud(t)
	eks := fixturecheck.Issuer("eks")
	ctx := context.Background()
	get := func(_ context.Context, path string, out any) error {
		status, body := c.Admin(http.MethodGet, path, "")
		if status != http.StatusOK {
			return fmt.Errorf("GET %s: HTTP %d: %s", path, status, body)
		}
		return json.Unmarshal([]byte(body), out)
	}
	// A decision in the log, so a wipe would show.
	seed, _, err := trustboundary.Send(ctx, c.Client(), "app-a-data.s3."+idlabtest.Region+".amazonaws.com", trustboundary.Request{Method: "GET", Path: "/hello.txt"})
	require.NoError(t, err)
	require.Equal(t, trustboundary.Answer{Status: 403, Code: "AccessDenied"}, seed)
	before, err := trustboundary.Read(ctx, get, eks)
	require.NoError(t, err)
	require.NotEmpty(t, before.NewestDecision)
	requests := trustboundary.Requests(eks, account)

	t.Run("cloud listener", func(t *testing.T) {
		for _, tg := range append(trustboundary.Targets(idlabtest.Region, bucket, "172.18.0.9"), trustboundary.Loopback()) {
			for _, r := range requests {
				got, body, err := trustboundary.Send(ctx, c.Client(), tg.Host, r)
				require.NoError(t, err)
				require.Equal(t, trustboundary.Expected(tg, r), got, "%s %s https://%s%s: %s", tg.ID, r.Method, tg.Host, r.Path, body)
			}
		}
		changes, err := trustboundary.Changes(ctx, get, eks, before)
		require.NoError(t, err)
		require.Empty(t, changes)
	})
	t.Run("admin API", func(t *testing.T) {
		for _, r := range requests {
			status, body := c.Admin(r.Method, r.Path, r.Body)
			require.True(t, status/100 == 2, "%s: HTTP %d: %s", r.ID, status, body)
		}
		changes, err := trustboundary.Changes(ctx, get, eks, before)
		require.NoError(t, err)
		require.Len(t, changes, 7, "every kind of change shows: %q", changes)
		for i, what := range []string{"clock offset", "keys of", "signing key of", "tokens minted", "IAM roles", "IAM users", "IAM decision log"} {
			require.True(t, strings.HasPrefix(changes[i], what), changes[i])
		}
		require.Contains(t, changes[4], trustboundary.AttackRole)
		require.Contains(t, changes[5], trustboundary.AttackUser)
	})
}

// TestAdminPrefixKeysAreS3 is the test of the suite's S3 rows: its role
// writes and reads _idlab/probe.txt in its bucket through the cloud
// listener, path-style and virtual-hosted, with the SDK; another bucket
// stays out of its reach, so the rows rest on the role's policy.
func TestAdminPrefixKeysAreS3(t *testing.T) {
	c := labCloud(t)
	token, err := c.TokenFile(fixturecheck.Issuer("eks"), namespace, "app")
	require.NoError(t, err)
	cfg := c.Config(roleARN, token)
	ctx := context.Background()
	for _, pathStyle := range []bool{true, false} {
		cl := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle })
		text := fmt.Sprintf("path-style %v", pathStyle)
		_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(text)})
		require.NoError(t, err, text)
		out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		require.NoError(t, err, text)
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		require.NoError(t, err)
		require.Equal(t, text, string(got))
	}
	_, err = s3.NewFromConfig(cfg).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("app-a-data"), Key: aws.String(key), Body: strings.NewReader("x")})
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "AccessDenied", ae.ErrorCode())
}
