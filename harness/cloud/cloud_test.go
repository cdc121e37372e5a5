package cloud

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/oidc"
)

const (
	testIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/CLOUDTEST"
	testHost   = "oidc.eks.us-west-2.amazonaws.com/id/CLOUDTEST"
)

const testFixture = `accounts:
  - id: "111111111111"
    oidcProviders:
      - url: ` + testIssuer + `
        clientIDs: [sts.amazonaws.com]
    roles:
      - name: app-a
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Federated: "arn:aws:iam::111111111111:oidc-provider/` + testHost + `"}
              Action: sts:AssumeRoleWithWebIdentity
              Condition: {StringEquals: {"` + testHost + `:sub": "system:serviceaccount:a:app-a"}}
`

// eksIssuer is the lab's eks issuer (harness.IssuerID("eks"); harness's
// config test checks fixtures/aws/lab.yaml trusts it).
const eksIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/72384992066C61667C0CF6C50CD43852"

// labFixture is the lab's AWS fixture as shipped.
func labFixture(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../fixtures/aws/lab.yaml")
	require.NoError(t, err)
	return string(raw)
}

// startCloud writes what the lab writes (a cluster's public SA key, the
// issuers file, IAM fixtures) and starts the composed service. It returns a
// minter holding the private key, standing in for kube-apiserver.
func startCloud(t *testing.T) (*Cloud, *oidc.Issuer) {
	t.Helper()
	return startCloudWith(t, testFixture)
}

// startCloudWith is startCloud with another IAM fixture.
func startCloudWith(t *testing.T, fixture string) (*Cloud, *oidc.Issuer) {
	t.Helper()
	return startCloudFor(t, testIssuer, fixture, nil)
}

// startCloudFor hosts issuerURL (a cluster's issuer) with the AWS fixture;
// more changes the config before the cloud starts (other clouds' fixtures).
func startCloudFor(t *testing.T, issuerURL, fixture string, more func(*Config)) (*Cloud, *oidc.Issuer) {
	t.Helper()
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
	require.NoError(t, WriteIssuers(filepath.Join(dir, "issuers.yaml"), IssuersFile{Issuers: []IssuerConfig{{URL: issuerURL, PublicKeyFiles: []string{"sa.pub"}}}}))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "fixtures"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "fixtures", "iam.yaml"), []byte(fixture), 0o644))

	cfg := Config{DataDir: filepath.Join(dir, "data"), FixturesDir: filepath.Join(dir, "fixtures"), IssuersFile: filepath.Join(dir, "issuers.yaml"),
		AdminListen: "unix:" + filepath.Join(socketDir(t), "admin.sock"), AdminSecret: testAdminSecret}
	if more != nil {
		more(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, c.Start())
	t.Cleanup(func() { _ = c.Close(context.Background()) })

	minterH, err := oidc.New(oidc.Options{})
	require.NoError(t, err)
	minter, err := minterH.AddIssuer(issuerURL)
	require.NoError(t, err)
	_, err = minter.AddSigner(key)
	require.NoError(t, err)
	return c, minter
}

// testAdminSecret is the admin secret of the clouds tests start.
const testAdminSecret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// socketDir is a short directory for a Unix socket: t.TempDir's paths,
// named after the test, can pass the 107 bytes a socket path may have.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "idlab-admin-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// adminDo sends an admin request to c's admin listener with the secret and
// returns the status and body.
func adminDo(t *testing.T, c *Cloud, method, path, body string) (int, string) {
	t.Helper()
	return adminDoAs(t, c, testAdminSecret, method, path, body)
}

// adminDoAs is adminDo presenting secret ("" for none).
func adminDoAs(t *testing.T, c *Cloud, secret, method, path, body string) (int, string) {
	t.Helper()
	client, base, err := NewAdminClient(c.AdminAddr(), secret)
	require.NoError(t, err)
	if secret == "" {
		client.Transport = client.Transport.(bearer).next
	}
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func webIdentity(t *testing.T, c *Cloud, base, token string) (int, string) {
	t.Helper()
	form := url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {"arn:aws:iam::111111111111:role/app-a"},
		"RoleSessionName": {"s1"}, "WebIdentityToken": {token}}
	resp, err := c.Client().Post(base+"/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestCloudServesTheChainByHostAndOnLoopback(t *testing.T) {
	c, minter := startCloud(t)
	good, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: "a", ServiceAccount: "app-a", Audiences: []string{"sts.amazonaws.com"}})
	require.NoError(t, err)
	other, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: "a", ServiceAccount: "app-b", Audiences: []string{"sts.amazonaws.com"}})
	require.NoError(t, err)

	// As a pod sees it: the real host names, resolved to the emulator.
	for _, base := range []string{"https://sts.us-west-2.amazonaws.com", "https://sts.amazonaws.com", c.URL()} {
		status, body := webIdentity(t, c, base, good)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, "assumed-role/app-a/s1")
		status, body = webIdentity(t, c, base, other)
		require.Equal(t, http.StatusForbidden, status)
		require.Contains(t, body, "<Code>AccessDenied</Code>")
	}

	// The issuer's discovery is served under its real host name too.
	resp, err := c.Client().Get(testIssuer + "/.well-known/openid-configuration")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	resp.Body.Close()
	require.Equal(t, testIssuer, doc["issuer"])

	// Denies are in the decision log, with the reason.
	status, body := adminDo(t, c, http.MethodGet, "/_idlab/decisions?cloud=aws&effect=ImplicitDeny", "")
	require.Equal(t, http.StatusOK, status, body)
	var ds []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &ds))
	require.Len(t, ds, 3)
	require.Contains(t, ds[0]["reason"], "system:serviceaccount:a:app-b")

	// Unknown hosts get a clear 404.
	resp, err = c.Client().Get("https://unknown.example.com/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestCloudClockExpiresTokens(t *testing.T) {
	c, minter := startCloud(t)
	tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: "a", ServiceAccount: "app-a", Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: 600})
	require.NoError(t, err)
	status, _ := webIdentity(t, c, c.URL(), tok)
	require.Equal(t, http.StatusOK, status)

	for _, bad := range []string{"advance=-5m", "advance=soon", "seconds=0", ""} {
		status, body := adminDo(t, c, http.MethodPost, "/_idlab/clock?"+bad, "")
		require.Equal(t, http.StatusBadRequest, status, bad+": "+body)
	}
	status, body := adminDo(t, c, http.MethodPost, "/_idlab/clock?advance=20m", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, 20*time.Minute, c.Clock.Offset())

	status, body = webIdentity(t, c, c.URL(), tok)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "<Code>ExpiredTokenException</Code>")
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := New(Config{})
	require.ErrorContains(t, err, "DataDir is required")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("accounts:\n  - id: 12\n"), 0o644))
	_, err = New(Config{DataDir: dir, FixturesDir: filepath.Join(dir, "bad.yaml")})
	require.ErrorContains(t, err, "bad.yaml:2")
}

// TestCloudClockForOneParty: the clock's one-party forms answer what they
// set, refuse bad combinations with 400 and unknown parties with 404, and
// move only that party: the lab clock stays put, and a role's sessions
// start old only once sessionAge is set, until it is set to 0.
func TestCloudClockForOneParty(t *testing.T) {
	c, _ := startCloudFor(t, testIssuer, testFixture, func(cfg *Config) { cfg.AzureFixtures = "../../fixtures/azure" })
	const role, app = "arn:aws:iam::111111111111:role/app-a", "09999999-9999-4999-8999-999999999999"
	const both = "give sessionAge=DURATION with role=ARN, or ahead=DURATION with app=CLIENT_ID, and nothing else"
	lifetime := func() time.Duration {
		s, err := c.IAM.IssueSession(awsiam.SessionSpec{Duration: 15 * time.Minute, Principal: awsiam.Principal{Type: awsiam.PrincipalAssumedRole, Account: "111111111111", RoleARN: role}})
		require.NoError(t, err)
		return time.Until(s.Credentials.Expiration).Round(time.Minute)
	}
	for _, tc := range []struct {
		name   string
		query  string
		status int
		want   string // in the body
		life   time.Duration
	}{
		{"sessionAge without role", "sessionAge=5m", http.StatusBadRequest, both, 15 * time.Minute},
		{"sessionAge with app", "sessionAge=5m&app=" + app, http.StatusBadRequest, both, 15 * time.Minute},
		{"ahead with role", "ahead=5m&role=" + role, http.StatusBadRequest, both, 15 * time.Minute},
		{"app without ahead", "app=" + app, http.StatusBadRequest, both, 15 * time.Minute},
		{"both settings", "sessionAge=5m&ahead=5m&role=" + role, http.StatusBadRequest, both, 15 * time.Minute},
		{"with advance", "sessionAge=5m&advance=5m&role=" + role, http.StatusBadRequest, both, 15 * time.Minute},
		{"negative", "sessionAge=-5m&role=" + role, http.StatusBadRequest, `sessionAge \"-5m\": want a Go duration of 0 or more`, 15 * time.Minute},
		{"not a duration", "ahead=soon&app=" + app, http.StatusBadRequest, `ahead \"soon\"`, 15 * time.Minute},
		{"unknown role", "sessionAge=5m&role=arn:aws:iam::111111111111:role/none", http.StatusNotFound, "NoSuchEntity", 15 * time.Minute},
		{"unknown app", "ahead=5m&app=00000000-0000-4000-8000-000000000000", http.StatusNotFound, "no Entra app", 15 * time.Minute},
		{"advance a role: issued sessions only", "advance=5m&role=" + role, http.StatusOK, `"sessionsAged":`, 15 * time.Minute},
		{"sessionAge", "sessionAge=11m&role=" + role, http.StatusOK, `"sessionAgeSeconds":660`, 4 * time.Minute},
		{"sessionAge again: set, not added", "sessionAge=11m&role=" + role, http.StatusOK, `"sessionAgeSeconds":660`, 4 * time.Minute},
		{"app ahead: sessions untouched", "ahead=4m&app=" + app, http.StatusOK, `"aheadSeconds":240`, 4 * time.Minute},
		{"sessionAge 0 ends it", "sessionAge=0&role=" + role, http.StatusOK, `"sessionAgeSeconds":0`, 15 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := adminDo(t, c, http.MethodPost, "/_idlab/clock?"+tc.query, "")
			require.Equal(t, tc.status, status, body)
			require.Contains(t, body, tc.want)
			require.Zero(t, c.Clock.Offset(), "the lab clock does not move")
			require.Equal(t, tc.life, lifetime(), "a session issued now lasts")
		})
	}
}
