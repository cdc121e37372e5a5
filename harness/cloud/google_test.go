package cloud

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
)

const gkeIssuer = "https://container.googleapis.com/v1/projects/idlab/locations/us-central1/clusters/gke"

// TestGKEWorkloadIdentityThroughTheCloud walks GKE Workload Identity over
// the real Google host names with the shipped fixtures/gcp: a KSA token is
// exchanged at STS, impersonates its bound GSA, and reads that GSA's
// bucket, not another's. It is the path the GKE metadata server takes.
func TestGKEWorkloadIdentityThroughTheCloud(t *testing.T) {
	c, gke := startCloudFor(t, gkeIssuer, "accounts: []\n", func(cfg *Config) { cfg.GCPFixtures = "../../fixtures/gcp" })
	do := func(method, u, ctype, body, bearer string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, u, strings.NewReader(body))
		require.NoError(t, err)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	federated := func(ksa string) string {
		t.Helper()
		tok, err := gke.MintServiceAccountToken(oidc.TokenRequest{Namespace: "idlab-gke", ServiceAccount: ksa, Audiences: []string{"idlab.svc.id.goog"}})
		require.NoError(t, err)
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "audience": {"identitynamespace:idlab.svc.id.goog:" + gkeIssuer},
			"scope": {"https://www.googleapis.com/auth/cloud-platform"}, "requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
			"subject_token": {tok}, "subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"}}
		status, body := do("POST", "https://sts.googleapis.com/v1/token", "application/x-www-form-urlencoded", form.Encode(), "")
		require.Equal(t, http.StatusOK, status, body)
		var out struct {
			AccessToken string `json:"access_token"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &out))
		return out.AccessToken
	}
	impersonate := func(fed, gsa string) (int, string) {
		return do("POST", "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"+gsa+":generateAccessToken",
			"application/json", `{"scope":["https://www.googleapis.com/auth/cloud-platform"]}`, fed)
	}

	// Discovery of Google's issuer through its real name.
	status, body := do("GET", "https://accounts.google.com/.well-known/openid-configuration", "", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `"issuer": "https://accounts.google.com"`)

	fedA := federated("app-a")
	status, body = impersonate(fedA, "team-a-reader@idlab.iam.gserviceaccount.com")
	require.Equal(t, http.StatusOK, status, body)
	var at struct{ AccessToken string }
	require.NoError(t, json.Unmarshal([]byte(body), &at))

	status, body = do("GET", "https://storage.googleapis.com/storage/v1/b/team-a-data/o/hello.txt?alt=media", "", "", at.AccessToken)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "hello from team-a-data", body)
	status, body = do("GET", "https://storage.googleapis.com/storage/v1/b/team-b-data/o/secret.txt?alt=media", "", "", at.AccessToken)
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, "team-a-reader@idlab.iam.gserviceaccount.com does not have storage.objects.get access")

	// app-a's KSA is not bound on team-b-reader.
	status, body = impersonate(fedA, "team-b-reader@idlab.iam.gserviceaccount.com")
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, "PERMISSION_DENIED")

	// No token at all.
	status, _ = do("GET", "https://storage.googleapis.com/storage/v1/b/team-a-data/o/hello.txt?alt=media", "", "", "")
	require.Equal(t, http.StatusUnauthorized, status)

	// Entra and EKS Auth answer under their names too.
	status, body = do("GET", "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0/.well-known/openid-configuration", "", "", "")
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Contains(t, body, "AADSTS90002")
	status, body = do("POST", "https://eks-auth.us-west-2.api.aws/clusters/eks/assume-role-for-pod-identity", "application/json", `{"token":"a.b.c"}`, "")
	require.Equal(t, http.StatusForbidden, status, body)
}

// The lab passes a directory for every cloud, empty when it has no
// fixtures; a directory must load like a file (a crash-looping emulator in
// the lab once said "read /data/fixtures-eks: is a directory").
func TestOtherCloudFixtureDirs(t *testing.T) {
	empty := t.TempDir()
	c, _ := startCloudFor(t, gkeIssuer, "accounts: []\n", func(cfg *Config) {
		cfg.GCPFixtures, cfg.EKSFixtures, cfg.AzureFixtures = "../../fixtures/gcp", empty, empty
	})
	_, err := c.Google.ServiceAccount("team-a-reader@idlab.iam.gserviceaccount.com")
	require.NoError(t, err)
}
