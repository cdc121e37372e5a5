package cloud

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The zones cluster DNS sends to the emulator are the ones the lab has
// always written into CoreDNS, in the same order.
func TestZones(t *testing.T) {
	require.Equal(t, []string{"amazonaws.com", "api.aws", "googleapis.com", "accounts.google.com", "microsoftonline.com",
		"login.microsoft.com", "azure.com", "blob.core.windows.net"}, Zones())
}

func TestRegistryIsConsistent(t *testing.T) {
	names := map[Service]bool{}
	actions := map[string]Service{}
	var prefixes []string
	sets := map[string]bool{}
	for _, s := range services {
		require.NotEmpty(t, s.name)
		require.False(t, names[s.name], "%s registered twice", s.name)
		names[s.name] = true
		require.NotNil(t, s.build, s.name)
		if s.host != nil || s.sigv4 != "" || len(s.actions) > 0 {
			require.NotNil(t, s.handler, "%s is routed to but has no handler", s.name)
		}
		for _, a := range s.actions {
			require.Empty(t, actions[a], "action %s claimed by %s and %s", a, actions[a], s.name)
			actions[a] = s.name
		}
		require.Equal(t, s.admin == nil, s.adminPrefix == "", "%s: adminPrefix and admin go together", s.name)
		require.Equal(t, s.load == nil, s.fixtures == "", "%s: fixtures and load go together", s.name)
		if s.fixtures != "" {
			require.True(t, slices.ContainsFunc(fixtureSets, func(f fixtureSet) bool { return f.flag == s.fixtures }), "%s reads unknown fixture set %q", s.name, s.fixtures)
			sets[s.fixtures] = true
		}
		if s.admin != nil {
			require.True(t, strings.HasPrefix(s.adminPrefix, AdminPrefix) && strings.HasSuffix(s.adminPrefix, "/"), s.adminPrefix)
			prefixes = append(prefixes, s.adminPrefix)
		}
	}
	for _, f := range fixtureSets {
		require.True(t, sets[f.flag], "no service reads fixture set %s", f.flag)
	}
	// No admin prefix hides another's paths or the lab's own.
	for _, p := range prefixes {
		for _, own := range append(slices.Clone(prefixes), IMDSAdminPrefix, "/_idlab/clock", "/_idlab/healthz") {
			if own != p {
				require.False(t, strings.HasPrefix(own, p), "%s hides %s", p, own)
			}
		}
	}
}

func TestServiceForHost(t *testing.T) {
	for host, want := range map[string]Service{
		"sts.amazonaws.com":                              ServiceSTS,
		"iam.amazonaws.com":                              ServiceIAM,
		"IAM.amazonaws.com":                              ServiceIAM,
		"iam.us-east-1.amazonaws.com":                    ServiceNone,
		"sts-fips.us-east-1.amazonaws.com":               ServiceSTS,
		"sts.s3.amazonaws.com":                           ServiceSTS,
		"sns.us-west-2.amazonaws.com":                    ServiceSNS,
		"sns.s3.amazonaws.com":                           ServiceSNS, // SNS is tried before S3
		"sns.amazonaws.com":                              ServiceNone,
		"sns.a.b.amazonaws.com":                          ServiceNone,
		"s3.amazonaws.com":                               ServiceS3,
		"s3-us-west-2.amazonaws.com":                     ServiceS3,
		"my.bucket.s3.dualstack.us-west-2.amazonaws.com": ServiceS3,
		"ec2.us-west-2.amazonaws.com":                    ServiceNone,
		"eks-auth.us-west-2.api.aws":                     ServiceEKSAuth,
		"eks-auth.a.b.api.aws":                           ServiceNone,
		"other.api.aws":                                  ServiceNone,
		"accounts.google.com":                            ServiceGoogleIAM,
		"iamcredentials.googleapis.com":                  ServiceGoogleIAM,
		"storage.googleapis.com":                         ServiceGCS,
		"compute.googleapis.com":                         ServiceNone,
		"login.microsoftonline.com":                      ServiceEntra,
		"LOGIN.microsoft.com":                            ServiceEntra,
		"acct.blob.core.windows.net":                     ServiceAzureBlob,
		"a.b.blob.core.windows.net":                      ServiceNone,
		"management.azure.com":                           ServiceAzureARM,
		"Management.Azure.com":                           ServiceAzureARM,
		"management.core.windows.net":                    ServiceNone, // a token audience, not ARM's host
		"westus2.management.azure.com":                   ServiceNone,
		"example.com":                                    ServiceNone,
	} {
		require.Equal(t, want, serviceForHost(host), host)
		if want == ServiceNone {
			continue
		}
		// Every host a service answers is in one of the zones DNS sends to the lab.
		require.True(t, slices.ContainsFunc(Zones(), func(z string) bool {
			h := strings.ToLower(host)
			return h == z || strings.HasSuffix(h, "."+z)
		}), "%s is in no zone", host)
	}
}

// Endpoints prints one line per registered service that has one, and the
// lab's own.
func TestEndpointsNameEveryService(t *testing.T) {
	c, _ := startCloud(t)
	eps := c.Endpoints()
	require.ElementsMatch(t, []string{"url", "admin", "ca_bundle", "issuer.0", "iam", "sts", "s3", "sns", "eks-auth", "google", "entra", "azureblob", "azurearm"},
		slices.Collect(maps.Keys(eps)))
	require.Contains(t, eps["sts"], c.URL())
	require.Contains(t, eps["eks-auth"], "eks-auth.us-east-1.api.aws", "the default region")
}

// serviceHosts is a host each routed service answers, for the tests that
// walk the registry.
var serviceHosts = map[Service]string{
	ServiceIAM: "iam.amazonaws.com", ServiceOIDC: "oidc.eks.us-west-2.amazonaws.com", ServiceSTS: "sts.us-west-2.amazonaws.com", ServiceSNS: "sns.us-west-2.amazonaws.com",
	ServiceS3: "s3.us-west-2.amazonaws.com", ServiceEKSAuth: "eks-auth.us-west-2.api.aws", ServiceGoogleIAM: "accounts.google.com",
	ServiceGCS: "storage.googleapis.com", ServiceEntra: "login.microsoftonline.com", ServiceAzureBlob: "acct.blob.core.windows.net",
	ServiceAzureARM: "management.azure.com",
}

// No registered service answers the admin API on the cloud plane: the
// admin paths sent to each service's host get the cloud's answer, never
// the admin handler's, and change nothing.
func TestCloudPlaneNeverServesAdminPaths(t *testing.T) {
	c, _ := startCloud(t)
	for _, s := range services {
		if s.handler == nil {
			continue
		}
		host, ok := serviceHosts[s.name]
		require.True(t, ok, "serviceHosts needs a host for %s", s.name)
		paths := []string{"/_idlab/healthz", "/_idlab/clock?advance=1h"}
		if s.adminPrefix != "" {
			paths = append(paths, s.adminPrefix+"decisions")
		}
		for _, p := range paths {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				before := c.Clock.Offset()
				cloud := httptest.NewRecorder()
				c.ServeHTTP(cloud, httptest.NewRequest(method, "https://"+host+p, nil))
				require.Equal(t, before, c.Clock.Offset(), "%s %s on %s moved the clock", method, p, host)
				admin := httptest.NewRecorder()
				c.AdminHandler().ServeHTTP(admin, httptest.NewRequest(method, "http://idlab-admin"+p, nil))
				if admin.Code == http.StatusOK {
					require.False(t, cloud.Code == admin.Code && cloud.Body.String() == admin.Body.String(),
						"%s %s on %s (%s) got the admin answer: %s", method, p, host, s.name, cloud.Body.String())
				}
				require.NotContains(t, cloud.Body.String(), `"status":"ok"`, "%s %s on %s", method, p, host)
			}
		}
	}
	require.Positive(t, c.Clock.Offset(), "the admin listener did move it")
}

// A build that names another in needs names an aside service listed
// before it: needs exist only to wait for aside builds.
func TestServiceNeedsAreEarlierAsideServices(t *testing.T) {
	aside := map[Service]bool{}
	for _, s := range services {
		for _, n := range s.needs {
			require.True(t, aside[n], "%s needs %s, which is not an aside service listed before it", s.name, n)
		}
		if s.aside {
			aside[s.name] = true
		}
	}
	require.NotEmpty(t, aside)
}
