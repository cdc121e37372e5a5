package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/harness/trustboundary"
)

// cloudDo sends an anonymous request to host on c's cloud listener, as a
// pod does through cluster DNS (for an IP host, as one that dialled the
// emulator's address), and returns what it got.
func cloudDo(t *testing.T, c *Cloud, host string, r trustboundary.Request) (trustboundary.Answer, string) {
	t.Helper()
	client := c.Client()
	if net.ParseIP(host) != nil {
		// No SNI: the listener's certificate names 127.0.0.1.
		client.Transport.(*http.Transport).TLSClientConfig.ServerName = "127.0.0.1"
	}
	req, err := http.NewRequest(r.Method, "https://"+host+r.Path, strings.NewReader(r.Body))
	require.NoError(t, err)
	if r.Body != "" {
		req.Header.Set("Content-Type", trustboundary.FormContentType)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return trustboundary.Answer{Status: resp.StatusCode, Code: trustboundary.ErrorCode(resp.Header, body)}, string(body)
}

// adminGetter reads admin paths from c's admin listener with the secret.
func adminGetter(t *testing.T, c *Cloud) trustboundary.Getter {
	t.Helper()
	return func(_ context.Context, path string, out any) error {
		status, body := adminDo(t, c, http.MethodGet, path, "")
		if status != http.StatusOK {
			return fmt.Errorf("GET %s: HTTP %d: %s", path, status, body)
		}
		return json.Unmarshal([]byte(body), out)
	}
}

// TestWorkloadCannotUseTheAdminAPI is the test of the trustboundary suite:
// the admin requests its pod sends get each cloud's own answer on the
// cloud listener and change nothing; on the admin listener they are
// refused without the secret and, with it, do what they did on the old
// router (so the list is made of real admin requests).
func TestWorkloadCannotUseTheAdminAPI(t *testing.T) {
	c, _ := startCloudFor(t, eksIssuer, labFixture(t), func(cfg *Config) {
		cfg.Region = "us-west-2"
		cfg.GCPFixtures = "../../fixtures/gcp"
		cfg.AzureFixtures = "../../fixtures/azure"
	})
	ctx := context.Background()
	get := adminGetter(t, c)
	// A decision in the log, so a wipe would show.
	seed, _ := cloudDo(t, c, "app-a-data.s3.us-west-2.amazonaws.com", trustboundary.Request{Method: "GET", Path: "/hello.txt"})
	require.Equal(t, trustboundary.Answer{Status: 403, Code: "AccessDenied"}, seed)
	before, err := trustboundary.Read(ctx, get, eksIssuer)
	require.NoError(t, err)
	require.NotEmpty(t, before.NewestDecision)
	requests := trustboundary.Requests(eksIssuer, "123456789012")

	t.Run("cloud listener", func(t *testing.T) {
		for _, tg := range append(trustboundary.Targets("us-west-2", "trustboundary-data", "172.18.0.9"), trustboundary.Loopback()) {
			for _, r := range requests {
				got, body := cloudDo(t, c, tg.Host, r)
				require.Equal(t, trustboundary.Expected(tg, r), got, "%s %s https://%s%s: %s", tg.ID, r.Method, tg.Host, r.Path, body)
			}
		}
		changes, err := trustboundary.Changes(ctx, get, eksIssuer, before)
		require.NoError(t, err)
		require.Empty(t, changes)
	})
	t.Run("admin listener without the secret", func(t *testing.T) {
		for _, secret := range []string{"", strings.Repeat("0", 64), testAdminSecret[:63]} {
			for _, r := range requests {
				status, body := adminDoAs(t, c, secret, r.Method, r.Path, r.Body)
				require.Equal(t, http.StatusUnauthorized, status, "%s with secret %q: %s", r.ID, secret, body)
				require.Equal(t, "Unauthorized", trustboundary.ErrorCode(http.Header{}, []byte(body)))
			}
		}
		changes, err := trustboundary.Changes(ctx, get, eksIssuer, before)
		require.NoError(t, err)
		require.Empty(t, changes)
	})
	t.Run("admin listener with the secret", func(t *testing.T) {
		for _, r := range requests {
			status, body := adminDo(t, c, r.Method, r.Path, r.Body)
			require.True(t, status/100 == 2, "%s: HTTP %d: %s", r.ID, status, body)
		}
		changes, err := trustboundary.Changes(ctx, get, eksIssuer, before)
		require.NoError(t, err)
		require.Len(t, changes, 7, "every kind of change shows: %q", changes)
		for i, what := range []string{"clock offset", "keys of", "signing key of", "tokens minted", "IAM roles", "IAM users", "IAM decision log"} {
			require.True(t, strings.HasPrefix(changes[i], what), changes[i])
		}
		require.Contains(t, changes[4], trustboundary.AttackRole)
		require.Contains(t, changes[5], trustboundary.AttackUser)
	})
}

// TestCloudListenerServesNoAdminPath: every admin path, health included,
// on every host name the lab serves and on 127.0.0.1, gets no 2xx.
func TestCloudListenerServesNoAdminPath(t *testing.T) {
	c, _ := startCloudFor(t, eksIssuer, labFixture(t), func(cfg *Config) {
		cfg.Region = "us-west-2"
		cfg.GCPFixtures = "../../fixtures/gcp"
		cfg.AzureFixtures = "../../fixtures/azure"
		cfg.IMDS = []IMDSConfig{{Name: "eks", RoleARN: "arn:aws:iam::123456789012:role/eks-node"}}
	})
	paths := []string{"healthz", "clock", "iam/decisions", "iam/roles", "iam/users", "oidc/issuers", "s3/buckets", "sns/topics",
		"entra/decisions", "entra/apps", "azureblob/decisions", "azureblob/accounts", "google/decisions", "imds/eks"}
	hosts := []string{"127.0.0.1", "localhost", "sts.amazonaws.com", "sts.us-west-2.amazonaws.com", "s3.us-west-2.amazonaws.com",
		"app-a-data.s3.us-west-2.amazonaws.com", "sns.us-west-2.amazonaws.com", "eks-auth.us-west-2.api.aws",
		"oidc.eks.us-west-2.amazonaws.com", "accounts.google.com", "sts.googleapis.com", "iamcredentials.googleapis.com",
		"storage.googleapis.com", "login.microsoftonline.com", "idlab.blob.core.windows.net"}
	for _, p := range paths {
		status, body := adminDo(t, c, http.MethodGet, AdminPrefix+p, "")
		require.Equal(t, http.StatusOK, status, "the admin listener serves %s: %s", p, body)
		for _, host := range hosts {
			got, body := cloudDo(t, c, host, trustboundary.Request{Method: "GET", Path: AdminPrefix + p})
			require.False(t, got.Status/100 == 2, "GET https://%s%s%s: HTTP %d: %s", host, AdminPrefix, p, got.Status, body)
		}
	}
}

// TestAdminPrefixKeysAreS3 is the test of the trustboundary suite's S3
// rows: its role writes and reads _idlab/probe.txt in its bucket through
// the cloud listener, path-style and virtual-hosted, with the SDK.
func TestAdminPrefixKeysAreS3(t *testing.T) {
	c, minter := startCloudFor(t, eksIssuer, labFixture(t), func(cfg *Config) { cfg.Region = "us-west-2" })
	tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: "idlab-trustboundary", ServiceAccount: "app", Audiences: []string{"sts.amazonaws.com"}})
	require.NoError(t, err)
	creds := assumeWithWebIdentity(t, c, "arn:aws:iam::123456789012:role/trustboundary-app", tok)
	ctx := context.Background()
	for _, pathStyle := range []bool{true, false} {
		cl := s3.NewFromConfig(aws.Config{Region: "us-west-2", HTTPClient: c.Client(),
			Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)},
			func(o *s3.Options) { o.UsePathStyle = pathStyle; o.RetryMaxAttempts = 1 })
		text := fmt.Sprintf("path-style %v", pathStyle)
		_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trustboundary-data"), Key: aws.String("_idlab/probe.txt"), Body: strings.NewReader(text)})
		require.NoError(t, err, text)
		out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trustboundary-data"), Key: aws.String("_idlab/probe.txt")})
		require.NoError(t, err, text)
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		require.NoError(t, err)
		require.Equal(t, text, string(got))
	}
	// Another bucket stays out of reach: the rows rest on the role's policy.
	cl := s3.NewFromConfig(aws.Config{Region: "us-west-2", HTTPClient: c.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)},
		func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("app-a-data"), Key: aws.String("_idlab/probe.txt"), Body: strings.NewReader("x")})
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "AccessDenied", ae.ErrorCode())
}
