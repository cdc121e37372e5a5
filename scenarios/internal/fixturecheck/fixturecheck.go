// Package fixturecheck is what the suites' tests of their tests share: the
// lab's fixtures as shipped and with the condition a deny row rests on
// widened, tried on the composed cloud (idlabtest) as a pod's SDK would,
// so a row that says "denied" fails the day its condition goes away.
// The tests run in `make test`, beside each suite's e2e rows.
package fixturecheck

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/idlabtest"
)

// The lab's cluster issuers (harness.DefaultCluster) and Entra tenant
// (harness.AzureTenantID), the ones its fixtures trust. They are spelled
// out, and checked against harness in this package's test, so the suites'
// tests of their tests need not link the harness (kind, client-go).
const (
	AzureTenant = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	eksIssuer   = "https://oidc.eks.us-west-2.amazonaws.com/id/72384992066C61667C0CF6C50CD43852"
	gkeIssuer   = "https://container.googleapis.com/v1/projects/idlab/locations/us-central1/clusters/gke"
	aksIssuer   = "https://westus2.oic.prod-aks.azure.com/" + AzureTenant + "/3EBC6E7935B29D78BA982BAE8FB51607/"
)

// Issuer is the service-account issuer of the lab's cluster ("eks", "gke"
// or "aks"); "" for another name.
func Issuer(cluster string) string {
	return map[string]string{"eks": eksIssuer, "gke": gkeIssuer, "aks": aksIssuer}[cluster]
}

// Path is the path of the shipped fixture fixtures/name ("aws/lab.yaml",
// "gcp"), found from the test's folder up to the module root.
func Path(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "fixtures", filepath.FromSlash(name))
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test's folder")
		dir = parent
	}
}

// Read returns the shipped fixture fixtures/name.
func Read(t testing.TB, name string) string {
	t.Helper()
	raw, err := os.ReadFile(Path(t, name))
	require.NoError(t, err)
	return string(raw)
}

// Replace replaces old, which must occur exactly once in s, with new: a
// flip that silently matched nothing would prove nothing.
func Replace(t testing.TB, s, old, new string) string {
	t.Helper()
	require.Equal(t, 1, strings.Count(s, old), "fixture text %q must occur once", old)
	return strings.Replace(s, old, new, 1)
}

// Write writes fixture text to a new file and returns its path, as
// idlabtest.CloudOptions take it.
func Write(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lab.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// Variant is a fixture as shipped or with a denial's condition widened.
type Variant struct {
	Name    string // "shipped" or "widened"
	Fixture string
	Widened bool
}

// Variants are the shipped fixture and its widened form, which must differ.
func Variants(t testing.TB, shipped, widened string) []Variant {
	t.Helper()
	require.NotEqual(t, shipped, widened, "the flip must change the fixture")
	return []Variant{{"shipped", shipped, false}, {"widened", widened, true}}
}

// AWSCloud starts the composed cloud with the AWS fixture text, hosting
// the eks cluster's issuer.
func AWSCloud(t testing.TB, fixture string) *idlabtest.Cloud {
	t.Helper()
	return idlabtest.NewCloud(t, idlabtest.CloudOptions{AWSFixtures: Write(t, fixture), Issuers: []string{Issuer("eks")}})
}

// WebIdentityForm is the STS query of AssumeRoleWithWebIdentity for role
// with token.
func WebIdentityForm(role, token string) url.Values {
	return url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleSessionName": {"fixture-check"},
		"RoleArn": {role}, "WebIdentityToken": {token}}
}

// STS posts form to the cloud's STS by its real regional host name, as a
// pod's SDK does, and returns the status and body.
func STS(t testing.TB, c *idlabtest.Cloud, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.Client().Post("https://sts."+idlabtest.Region+".amazonaws.com/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// WebIdentity is STS with WebIdentityForm(role, token).
func WebIdentity(t testing.TB, c *idlabtest.Cloud, role, token string) (int, string) {
	t.Helper()
	return STS(t, c, WebIdentityForm(role, token))
}

// Code is the <Code> of an AWS Query API (STS, SNS) XML error body, ""
// when it has none.
func Code(body string) string {
	var e struct {
		Code string `xml:"Error>Code"`
	}
	_ = xml.Unmarshal([]byte(body), &e)
	return e.Code
}

// Credentials are the credentials of an AssumeRoleWithWebIdentity answer,
// which must be a success, with their expiry.
func Credentials(t testing.TB, status int, body string) aws.Credentials {
	t.Helper()
	require.Equal(t, http.StatusOK, status, body)
	var out struct {
		C struct {
			AccessKeyId, SecretAccessKey, SessionToken string
			Expiration                                 time.Time
		} `xml:"AssumeRoleWithWebIdentityResult>Credentials"`
	}
	require.NoError(t, xml.Unmarshal([]byte(body), &out))
	require.NotEmpty(t, out.C.AccessKeyId)
	return aws.Credentials{AccessKeyID: out.C.AccessKeyId, SecretAccessKey: out.C.SecretAccessKey, SessionToken: out.C.SessionToken,
		CanExpire: true, Expires: out.C.Expiration}
}
