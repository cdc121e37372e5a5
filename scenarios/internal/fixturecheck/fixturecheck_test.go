package fixturecheck

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/idlabtest"
)

func TestIssuersAreTheLabs(t *testing.T) {
	for _, name := range []string{"eks", "gke", "aks"} {
		require.Equal(t, harness.DefaultCluster(name).IssuerURL, Issuer(name), name)
	}
	require.Empty(t, Issuer("other"))
	require.Equal(t, harness.AzureTenantID, AzureTenant)
}

func TestReplaceRequiresOneOccurrence(t *testing.T) {
	require.Equal(t, "a-B-c", Replace(t, "a-b-c", "b", "B"))
	for _, text := range []string{"a-c", "b-b"} {
		r := &recorder{TB: t}
		func() {
			defer func() { _ = recover() }()
			Replace(r, text, "b", "B")
		}()
		require.True(t, r.failed, "%q: a flip that matches nothing, or twice, must fail", text)
	}
}

func TestVariantsMustDiffer(t *testing.T) {
	require.Len(t, Variants(t, "a", "b"), 2)
	r := &recorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		Variants(r, "a", "a")
	}()
	require.True(t, r.failed, "a flip that changes nothing proves nothing")
}

func TestCodeAndCredentials(t *testing.T) {
	require.Equal(t, "AccessDenied", Code(`<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code></Error></ErrorResponse>`))
	require.Empty(t, Code("<AssumeRoleWithWebIdentityResponse/>"))
	require.Empty(t, Code("not xml"))

	c := AWSCloud(t, Read(t, "aws/lab.yaml"))
	status, body := WebIdentity(t, c, RoleARN("app-a"), Token(t, c, "idlab-smoke", "app-a", "sts.amazonaws.com"))
	creds := Credentials(t, status, body)
	require.NotEmpty(t, creds.SecretAccessKey)
	require.NotEmpty(t, creds.SessionToken)
	status, body = WebIdentity(t, c, RoleARN("app-a"), Token(t, c, "idlab-smoke", "app-b", "sts.amazonaws.com"))
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, "AccessDenied", Code(body))
	require.Equal(t, idlabtest.Region, "us-west-2", "the lab's region, which STS's host name carries")
}

// recorder is a testing.TB that records a failure instead of stopping the
// test; FailNow panics with it, so the caller recovers.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) FailNow()              { r.failed = true; panic(r) }
func (r *recorder) Helper()               {}
