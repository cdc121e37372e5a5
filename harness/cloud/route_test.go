package cloud

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRouterServiceFor(t *testing.T) {
	rt := router{isIssuer: func(host, path string) bool {
		return (host == "oidc.eks.us-west-2.amazonaws.com" || host == "127.0.0.1") && strings.HasPrefix(path, "/id/ABC/")
	}}
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name   string
		method string
		url    string
		ctype  string
		body   string
		auth   string
		want   Service
	}{
		{"global sts host", "POST", "https://sts.amazonaws.com/", form, "Action=Anything", "", ServiceSTS},
		{"google discovery", "GET", "https://accounts.google.com/.well-known/openid-configuration", "", "", "", ServiceGoogleIAM},
		{"google jwks", "GET", "https://www.googleapis.com/oauth2/v3/certs", "", "", "", ServiceGoogleIAM},
		{"google sts is not aws sts", "POST", "https://sts.googleapis.com/v1/token", form, "grant_type=x", "", ServiceGoogleIAM},
		{"iam credentials", "POST", "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@p.iam.gserviceaccount.com:generateAccessToken", "", "", "", ServiceGoogleIAM},
		{"cloud storage", "GET", "https://storage.googleapis.com/storage/v1/b/bucket/o", "", "", "", ServiceGCS},
		{"other googleapis host", "GET", "https://pubsub.googleapis.com/v1/x", "", "", "", ServiceNone},
		{"entra", "POST", "https://login.microsoftonline.com/tenant/oauth2/v2.0/token", form, "", "", ServiceEntra},
		{"azure blob", "GET", "https://idlab.blob.core.windows.net/team-a-data/hello.txt", "", "", "", ServiceAzureBlob},
		{"not a blob account", "GET", "https://a.b.blob.core.windows.net/c", "", "", "", ServiceNone},
		{"eks auth", "POST", "https://eks-auth.us-west-2.api.aws/clusters/eks/assume-role-for-pod-identity", "", "", "", ServiceEKSAuth},
		{"other api.aws host", "POST", "https://eks-auth.us-west-2.x.api.aws/", "", "", "", ServiceNone},
		{"regional sts host", "POST", "https://sts.us-west-2.amazonaws.com/", form, "", "", ServiceSTS},
		{"fips sts host", "POST", "https://sts-fips.us-east-1.amazonaws.com/", form, "", "", ServiceSTS},
		{"issuer host discovery", "GET", "https://oidc.eks.us-west-2.amazonaws.com/id/ABC/.well-known/openid-configuration", "", "", "", ServiceOIDC},
		{"issuer by path on loopback", "GET", "https://127.0.0.1:8443/id/ABC/keys", "", "", "", ServiceOIDC},
		{"no admin on the cloud plane", "GET", "https://sts.amazonaws.com/_idlab/iam/decisions", "", "", "", ServiceSTS},
		{"loopback signed sts", "POST", "https://127.0.0.1:8443/", form, "Action=GetCallerIdentity",
			"AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00", ServiceSTS},
		{"loopback presigned sts", "GET", "https://127.0.0.1:8443/?X-Amz-Credential=AKIA%2F20260101%2Fus-east-1%2Fsts%2Faws4_request", "", "", "", ServiceSTS},
		{"loopback unsigned web identity", "POST", "https://127.0.0.1:8443/", form, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15", "", ServiceSTS},
		{"loopback query action", "GET", "https://127.0.0.1:8443/?Action=AssumeRoleWithWebIdentity", "", "", "", ServiceSTS},
		{"loopback unknown action goes to sts", "POST", "https://127.0.0.1:8443/", form, "Action=ListBuckets", "", ServiceSTS},
		{"loopback form without action goes to sts", "POST", "https://127.0.0.1:8443/", form, "Version=2011-06-15", "", ServiceSTS},
		{"loopback undecodable form goes to sts", "POST", "https://127.0.0.1:8443/", form, "Action=%zz", "", ServiceSTS},
		{"loopback unsigned s3 post", "POST", "https://127.0.0.1:8443/b?delete", "application/xml", "<Delete/>", "", ServiceS3},
		{"loopback form get is s3", "GET", "https://127.0.0.1:8443/b/k", form, "", "", ServiceS3},
		{"unknown host form without action", "POST", "https://example.com/", form, "Version=2011-06-15", "", ServiceNone},
		{"loopback anonymous object", "GET", "https://127.0.0.1:8443/bucket/key", "", "", "", ServiceS3},
		{"malformed credential scope on loopback", "POST", "https://127.0.0.1:8443/", "", "", "AWS4-HMAC-SHA256 Credential=junk", ServiceS3},
		{"malformed credential scope on a name", "POST", "https://idlab.example/", "", "", "AWS4-HMAC-SHA256 Credential=junk", ServiceNone},
		{"unknown host", "GET", "https://example.com/", "", "", "", ServiceNone},
		{"unknown amazonaws host", "GET", "https://ec2.us-west-2.amazonaws.com/", "", "", "", ServiceNone},
		{"s3 global", "GET", "https://s3.amazonaws.com/", "", "", "", ServiceS3},
		{"s3 regional", "PUT", "https://s3.us-west-2.amazonaws.com/b/k", "", "x", "", ServiceS3},
		{"s3 dash region", "GET", "https://s3-us-west-2.amazonaws.com/b", "", "", "", ServiceS3},
		{"s3 dualstack", "GET", "https://s3.dualstack.us-west-2.amazonaws.com/b", "", "", "", ServiceS3},
		{"s3 virtual host", "GET", "https://my-bucket.s3.us-west-2.amazonaws.com/k", "", "", "", ServiceS3},
		{"s3 virtual host dotted bucket", "GET", "https://my.dotted.bucket.s3.amazonaws.com/k", "", "", "", ServiceS3},
		{"bucket named like sts", "GET", "https://sts.s3.us-west-2.amazonaws.com/k", "", "", "", ServiceS3},
		{"sns regional", "POST", "https://sns.us-west-2.amazonaws.com/", form, "Action=Publish", "", ServiceSNS},
		{"loopback signed s3", "GET", "https://127.0.0.1:8443/b", "", "",
			"AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00", ServiceS3},
		{"loopback signed sns", "POST", "https://127.0.0.1:8443/", form, "Action=Publish",
			"AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=00", ServiceSNS},
		{"loopback unsigned sns action", "POST", "https://127.0.0.1:8443/", form, "Action=ListTopics&Version=2010-03-31", "", ServiceSNS},
		{"iam global host", "POST", "https://iam.amazonaws.com/", form, "Action=ListRoles&Version=2010-05-08", "", ServiceIAM},
		{"iam host whatever the action", "POST", "https://iam.amazonaws.com/", form, "Action=AssumeRole", "", ServiceIAM},
		{"loopback signed iam", "POST", "https://127.0.0.1:8443/", form, "Action=GetRole",
			"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00", ServiceIAM},
		{"loopback unsigned iam action", "POST", "https://127.0.0.1:8443/", form, "Action=CreateRole&Version=2010-05-08", "", ServiceIAM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			require.Equal(t, tc.want, rt.serviceFor(r))
			rest, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			require.Equal(t, tc.body, string(rest), "the router must leave the body for the emulator")
		})
	}
}

// A form body over maxSniffBody: the router reads the Action from its
// beginning, sends an unsigned form it cannot place on loopback to STS
// (which answers with its own error), and leaves the body whole.
func TestRouterLargeFormBodies(t *testing.T) {
	token := strings.Repeat("a", 70<<10) // over maxSniffBody, and over STS's 20,000
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, url, ctype, body string
		want                   Service
	}{
		{"web identity, action first", "https://127.0.0.1:8443/", form,
			"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&WebIdentityToken=" + token, ServiceSTS},
		{"web identity, action after the token", "https://127.0.0.1:8443/", form,
			"WebIdentityToken=" + token + "&Action=AssumeRoleWithWebIdentity&Version=2011-06-15", ServiceSTS},
		{"one pair longer than the prefix", "https://127.0.0.1:8443/", form, "WebIdentityToken=" + token, ServiceSTS},
		{"sns publish, action first", "https://127.0.0.1:8443/", form,
			"Action=Publish&Version=2010-03-31&Message=" + token, ServiceSNS},
		{"sns action beyond the prefix is not read", "https://127.0.0.1:8443/", form,
			"Message=" + token + "&Action=Publish", ServiceSTS},
		{"not a form", "https://127.0.0.1:8443/b/k", "application/octet-stream", token, ServiceS3},
		{"unknown host, action beyond the prefix", "https://idlab.example/", form,
			"x=" + token + "&Action=AssumeRoleWithWebIdentity", ServiceNone},
		{"unknown host, action first", "https://idlab.example/", form,
			"Action=AssumeRoleWithWebIdentity&x=" + token, ServiceSTS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, tc.url, strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			require.Equal(t, tc.want, router{}.serviceFor(r))
			rest, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			require.Equal(t, tc.body, string(rest), "the body reaches the emulator whole")
		})
	}
}

func TestFormActionIn(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		complete bool
		want     string
	}{
		{"complete", "Version=1&Action=AssumeRole", true, "AssumeRole"},
		{"complete, last pair counts", "Action=GetCallerIdentity", true, "GetCallerIdentity"},
		{"first of two", "Action=AssumeRole&Action=Publish", true, "AssumeRole"},
		{"escaped key and value", "%41ction=Assume%52ole", true, "AssumeRole"},
		{"a bad pair does not hide the action", "x=%zz&Action=AssumeRole", true, "AssumeRole"},
		{"no action", "Version=1", true, ""},
		{"empty", "", true, ""},
		{"prefix: the cut pair is ignored", "Version=1&Action=AssumeRoleWithWebIden", false, ""},
		{"prefix: whole pairs before the cut", "Action=AssumeRole&WebIdentityToken=eyJ", false, "AssumeRole"},
		{"prefix without a whole pair", "Action=AssumeRole", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, formActionIn([]byte(tc.body), tc.complete))
		})
	}
}

// FuzzFormActionIn: request bodies are untrusted. Whatever the body and
// wherever the router's prefix ends, formActionIn does not panic, reads a
// complete body as url.ParseQuery does, and from a prefix reads either
// nothing or what the whole body says.
func FuzzFormActionIn(f *testing.F) {
	f.Add("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&WebIdentityToken=eyJ", 40)
	f.Add("WebIdentityToken=x&Action=Publish", 5)
	f.Add("a=%zz;&Action=%", 3)
	f.Fuzz(func(t *testing.T, body string, cut int) {
		form, _ := url.ParseQuery(body)
		whole := formActionIn([]byte(body), true)
		require.Equal(t, form.Get("Action"), whole)
		if cut < 0 || cut > len(body) {
			return
		}
		if got := formActionIn([]byte(body[:cut]), false); got != "" {
			require.Equal(t, whole, got)
		}
	})
}

func TestHostOnly(t *testing.T) {
	require.Equal(t, "127.0.0.1", hostOnly("127.0.0.1:8443"))
	require.Equal(t, "::1", hostOnly("[::1]:8443"))
	require.Equal(t, "sts.amazonaws.com", hostOnly("sts.amazonaws.com"))
}
