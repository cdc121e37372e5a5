package cloud

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
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
	g := googleClient{t: t, c: c, gke: gke}

	// Discovery of Google's issuer through its real name.
	status, body := g.do("GET", "https://accounts.google.com/.well-known/openid-configuration", "", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `"issuer": "https://accounts.google.com"`)

	fedA := g.federated("app-a")
	at := g.accessToken(fedA, readerA)
	status, body = g.do("GET", "https://storage.googleapis.com/storage/v1/b/team-a-data/o/hello.txt?alt=media", "", "", at)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "hello from team-a-data", body)
	status, body = g.do("GET", "https://storage.googleapis.com/storage/v1/b/team-b-data/o/secret.txt?alt=media", "", "", at)
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, readerA+" does not have storage.objects.get access")

	// app-a's KSA is not bound on team-b-reader.
	status, body = g.impersonate(fedA, "team-b-reader@idlab.iam.gserviceaccount.com")
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, "PERMISSION_DENIED")

	// No token at all.
	status, _ = g.do("GET", "https://storage.googleapis.com/storage/v1/b/team-a-data/o/hello.txt?alt=media", "", "", "")
	require.Equal(t, http.StatusUnauthorized, status)

	// Entra and EKS Auth answer under their names too.
	status, body = g.do("GET", "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0/.well-known/openid-configuration", "", "", "")
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Contains(t, body, "AADSTS90002")
	status, body = g.do("POST", "https://eks-auth.us-west-2.api.aws/clusters/eks/assume-role-for-pod-identity", "application/json", `{"token":"a.b.c"}`, "")
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

// TestLabGoogleDenialsRestOnTheirBindings is the test of the gke suite's
// deny rows: with fixtures/gcp as shipped, app-a's GSA cannot read
// team-b-data and the unbound KSA cannot impersonate team-a-reader; add the
// two bindings and both succeed. A scenario that says "denied" therefore
// fails the day the missing binding appears.
func TestLabGoogleDenialsRestOnTheirBindings(t *testing.T) {
	raw, err := os.ReadFile("../../fixtures/gcp/lab.yaml")
	require.NoError(t, err)
	shipped := string(raw)
	widened := strings.Replace(shipped, `members: ["serviceAccount:team-b-reader@idlab.iam.gserviceaccount.com"]`,
		`members: ["serviceAccount:team-b-reader@idlab.iam.gserviceaccount.com", "serviceAccount:team-a-reader@idlab.iam.gserviceaccount.com"]`, 1)
	widened = strings.Replace(widened, `members: ["serviceAccount:idlab.svc.id.goog[idlab-gke/app-a]",`,
		`members: ["serviceAccount:idlab.svc.id.goog[idlab-gke/app-a]", "serviceAccount:idlab.svc.id.goog[idlab-gke/intruder]",`, 1)
	require.NotEqual(t, shipped, widened)

	for _, fx := range variants(shipped, widened) {
		t.Run(fx.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte(fx.fixture), 0o600))
			c, gke := startCloudFor(t, gkeIssuer, "accounts: []\n", func(cfg *Config) { cfg.GCPFixtures = dir })
			g := googleClient{t: t, c: c, gke: gke}
			at := g.accessToken(g.federated("app-a"), readerA)
			status, body := g.do("GET", "https://storage.googleapis.com/storage/v1/b/team-b-data/o/secret.txt?alt=media", "", "", at)
			status2, body2 := g.impersonate(g.federated("intruder"), readerA)
			if fx.widened {
				require.Equal(t, http.StatusOK, status, body)
				require.Equal(t, http.StatusOK, status2, body2)
				return
			}
			require.Equal(t, http.StatusForbidden, status, body)
			require.Equal(t, http.StatusForbidden, status2, body2)
		})
	}
}

const readerA = "team-a-reader@idlab.iam.gserviceaccount.com"

// googleClient calls the cloud's Google endpoints by their real names.
type googleClient struct {
	t   *testing.T
	c   *Cloud
	gke *oidc.Issuer
}

func (g googleClient) do(method, u, ctype, body, bearer string) (int, string) {
	g.t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(g.t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := g.c.Client().Do(req)
	require.NoError(g.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(g.t, err)
	return resp.StatusCode, string(b)
}

// federated exchanges a KSA token of idlab-gke/ksa at Google STS.
func (g googleClient) federated(ksa string) string {
	g.t.Helper()
	tok, err := g.gke.MintServiceAccountToken(oidc.TokenRequest{Namespace: "idlab-gke", ServiceAccount: ksa, Audiences: []string{"idlab.svc.id.goog"}})
	require.NoError(g.t, err)
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "audience": {"identitynamespace:idlab.svc.id.goog:" + gkeIssuer},
		"scope": {"https://www.googleapis.com/auth/cloud-platform"}, "requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		"subject_token": {tok}, "subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"}}
	status, body := g.do("POST", "https://sts.googleapis.com/v1/token", "application/x-www-form-urlencoded", form.Encode(), "")
	require.Equal(g.t, http.StatusOK, status, body)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(g.t, json.Unmarshal([]byte(body), &out))
	return out.AccessToken
}

func (g googleClient) impersonate(fed, gsa string) (int, string) {
	return g.do("POST", "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"+gsa+":generateAccessToken",
		"application/json", `{"scope":["https://www.googleapis.com/auth/cloud-platform"]}`, fed)
}

// accessToken impersonates gsa with a federated token; it must succeed.
func (g googleClient) accessToken(fed, gsa string) string {
	g.t.Helper()
	status, body := g.impersonate(fed, gsa)
	require.Equal(g.t, http.StatusOK, status, body)
	var at struct{ AccessToken string }
	require.NoError(g.t, json.Unmarshal([]byte(body), &at))
	return at.AccessToken
}
