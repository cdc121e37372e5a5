package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/eksauth"
	"github.com/idlab/idlab/harness/trustboundary"
)

// The trustboundary suite's test of its tests, the workload's requests on
// the cloud listener and with the secret, is in scenarios/trustboundary;
// these tests are the admin listener's own.

// cloudDo sends an anonymous request to host on c's cloud listener, as a
// pod does through cluster DNS, and returns what it got.
func cloudDo(t *testing.T, c *Cloud, host string, r trustboundary.Request) (trustboundary.Answer, string) {
	t.Helper()
	a, body, err := trustboundary.Send(context.Background(), c.Client(), host, r)
	require.NoError(t, err)
	return a, body
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

// TestAdminListenerRefusesTheWorkloadRequests: the admin requests a
// workload would send are refused on the admin listener without the secret
// (none, a wrong one, a truncated one) and change nothing.
func TestAdminListenerRefusesTheWorkloadRequests(t *testing.T) {
	c, _ := startCloudFor(t, eksIssuer, labFixture(t), nil)
	ctx := context.Background()
	get := adminGetter(t, c)
	before, err := trustboundary.Read(ctx, get, eksIssuer)
	require.NoError(t, err)
	for _, secret := range []string{"", strings.Repeat("0", 64), testAdminSecret[:63]} {
		for _, r := range trustboundary.Requests(eksIssuer, "123456789012") {
			status, body := adminDoAs(t, c, secret, r.Method, r.Path, r.Body)
			require.Equal(t, http.StatusUnauthorized, status, "%s with secret %q: %s", r.ID, secret, body)
			require.Equal(t, "Unauthorized", trustboundary.ErrorCode(http.Header{}, []byte(body)))
		}
	}
	changes, err := trustboundary.Changes(ctx, get, eksIssuer, before)
	require.NoError(t, err)
	require.Empty(t, changes)
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
	paths := []string{"healthz", "clock", "decisions", "iam/roles", "iam/users", "oidc/issuers", "s3/buckets", "sns/topics",
		"entra/apps", "azureblob/accounts", "eks-auth/associations", "imds/eks"}
	hosts := []string{"127.0.0.1", "localhost", "iam.amazonaws.com", "sts.amazonaws.com", "sts.us-west-2.amazonaws.com", "s3.us-west-2.amazonaws.com",
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

// TestCloudPlaneCannotChangeAssociations: the association admin requests
// sent to EKS Auth's own host, where a pod reaches it, are EKS Auth's to
// answer and change nothing; the admin listener makes the same change.
func TestCloudPlaneCannotChangeAssociations(t *testing.T) {
	c, _ := startCloud(t)
	require.NoError(t, c.EKS.AddCluster(eksauth.Cluster{Name: "eks", Account: "123456789012", IssuerURL: testIssuer}))
	const body = `{"clusterName":"eks","namespace":"team-a","serviceAccount":"app","roleArn":"arn:aws:iam::123456789012:role/app"}`
	before := c.EKS.Associations()
	for _, host := range []string{"eks-auth.us-west-2.api.aws", "eks-auth.us-east-1.api.aws"} {
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "https://"+host+eksauth.AdminPrefix+"associations", strings.NewReader(body)))
		require.False(t, rec.Code/100 == 2, "POST on %s: %d %s", host, rec.Code, rec.Body.String())
		require.Equal(t, before, c.EKS.Associations(), "POST on %s", host)
	}
	status, out := adminDo(t, c, http.MethodPost, eksauth.AdminPrefix+"associations", body)
	require.Equal(t, http.StatusCreated, status, out)
	require.Len(t, c.EKS.Associations(), len(before)+1)
}
