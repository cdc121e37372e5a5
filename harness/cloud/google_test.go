package cloud

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The lab passes a directory for every cloud, empty when it has no
// fixtures; a directory must load like a file (a crash-looping emulator in
// the lab once said "read /data/fixtures-eks: is a directory").
func TestOtherCloudFixtureDirs(t *testing.T) {
	empty := t.TempDir()
	c, _ := startCloudFor(t, testIssuer, "accounts: []\n", func(cfg *Config) {
		cfg.GCPFixtures, cfg.EKSFixtures, cfg.AzureFixtures = "../../fixtures/gcp", empty, empty
	})
	_, err := c.Google.ServiceAccount("team-a-reader@idlab.iam.gserviceaccount.com")
	require.NoError(t, err)
}

// TestOtherCloudsAnswerByName: Google, Entra and EKS Auth answer under
// their real host names, as pods reach them through cluster DNS. (The gke
// suite's test walks Workload Identity through them: scenarios/gke.)
func TestOtherCloudsAnswerByName(t *testing.T) {
	c, _ := startCloud(t)
	for _, tc := range []struct {
		method, url, body string
		status            int
		want              string
	}{
		{"GET", "https://accounts.google.com/.well-known/openid-configuration", "", http.StatusOK, `"issuer": "https://accounts.google.com"`},
		{"GET", "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0/.well-known/openid-configuration", "", http.StatusBadRequest, "AADSTS90002"},
		{"POST", "https://eks-auth.us-west-2.api.aws/clusters/eks/assume-role-for-pod-identity", `{"token":"a.b.c"}`, http.StatusForbidden, ""},
	} {
		req, err := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
		require.NoError(t, err)
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Client().Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, tc.status, resp.StatusCode, "%s: %s", tc.url, body)
		require.Contains(t, string(body), tc.want)
	}
}
