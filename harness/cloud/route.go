package cloud

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/idlab/idlab/emulators/azureblob"
)

// Service names an emulated endpoint family.
type Service string

// Services the router knows.
const (
	ServiceNone Service = ""
	ServiceSTS  Service = "sts"
	ServiceS3   Service = "s3"
	ServiceSNS  Service = "sns"
	// Google: the identity plane (accounts.google.com, IAM Credentials, STS,
	// tokeninfo, JWKS) and Cloud Storage.
	ServiceGoogleIAM Service = "gcpiam"
	ServiceGCS       Service = "gcs"
	// ServiceEntra is the Microsoft Entra token endpoint.
	ServiceEntra Service = "entra"
	// ServiceAzureBlob is Azure Blob Storage (ACCOUNT.blob.core.windows.net).
	ServiceAzureBlob Service = "azureblob"
	// ServiceEKSAuth is EKS Auth (AssumeRoleForPodIdentity).
	ServiceEKSAuth Service = "eks-auth"
	ServiceOIDC    Service = "oidc"
)

// maxSniffBody bounds how much of an unsigned form body the router reads to
// find its Action: the SDKs write Action first, and a body whose prefix
// names none goes to STS all the same (serviceFor).
const maxSniffBody = 64 << 10

// router picks the service for a request.
type router struct {
	// isIssuer reports whether host+path belongs to a hosted OIDC issuer.
	isIssuer func(host, path string) bool
}

// serviceFor decides which emulator answers r. It may replace r.Body with an
// equivalent reader when it had to look at a form body.
func (rt router) serviceFor(r *http.Request) Service {
	host := hostOnly(r.Host)
	if rt.isIssuer != nil && rt.isIssuer(host, r.URL.Path) {
		return ServiceOIDC
	}
	if s := serviceForHost(host); s != ServiceNone {
		return s
	}
	if s := serviceFromSigV4(r); s != ServiceNone {
		return s
	}
	switch formAction(r) {
	case ServiceSTS:
		return ServiceSTS
	case ServiceSNS:
		return ServiceSNS
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		// An unsigned form POST whose Action names neither (none, another
		// API's, or none in the prefix the router reads) is no S3 request:
		// S3 takes no URL-encoded forms. STS, the one query API that
		// serves unsigned calls, answers it with its own error.
		if isFormPost(r) {
			return ServiceSTS
		}
		// What is left is S3 (path-style, possibly anonymous): the one AWS
		// API addressed by path rather than by action.
		return ServiceS3
	}
	return ServiceNone
}

// googleIdentityHosts are the googleapis.com hosts of Google's identity
// plane, all answered by gcpiam.
var googleIdentityHosts = map[string]bool{"iamcredentials": true, "sts": true, "oauth2": true, "www": true, "iam": true}

// serviceForHost maps AWS/GCP/Azure host names to a service.
func serviceForHost(host string) Service {
	host = strings.ToLower(host)
	switch {
	case host == "accounts.google.com":
		return ServiceGoogleIAM
	case host == "storage.googleapis.com":
		return ServiceGCS
	case host == "login.microsoftonline.com" || host == "login.microsoft.com":
		return ServiceEntra
	case strings.HasSuffix(host, azureblob.BlobHostSuffix) && !strings.Contains(strings.TrimSuffix(host, azureblob.BlobHostSuffix), "."):
		return ServiceAzureBlob
	}
	if name, ok := strings.CutSuffix(host, ".googleapis.com"); ok && googleIdentityHosts[name] {
		return ServiceGoogleIAM
	}
	if rest, ok := strings.CutSuffix(host, ".api.aws"); ok {
		if region, ok := strings.CutPrefix(rest, "eks-auth."); ok && !strings.Contains(region, ".") {
			return ServiceEKSAuth
		}
		return ServiceNone
	}
	rest, ok := strings.CutSuffix(host, ".amazonaws.com")
	if !ok {
		return ServiceNone
	}
	labels := strings.Split(rest, ".")
	switch labels[0] {
	case "sts", "sts-fips":
		if len(labels) <= 2 {
			return ServiceSTS
		}
	case "sns", "sns-fips":
		if len(labels) == 2 {
			return ServiceSNS
		}
	}
	// S3: s3.amazonaws.com, s3.REGION..., s3-REGION..., s3.dualstack.REGION...,
	// and virtual-hosted BUCKET.s3... where the bucket may itself hold dots.
	for i, l := range labels {
		if l == "s3" || l == "s3-fips" || l == "s3-external-1" || strings.HasPrefix(l, "s3-") && i == len(labels)-1 {
			return ServiceS3
		}
	}
	return ServiceNone
}

// serviceFromSigV4 reads the service from the credential scope of a SigV4
// Authorization header or presigned query (AKID/DATE/REGION/SERVICE/aws4_request).
func serviceFromSigV4(r *http.Request) Service {
	cred := ""
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "AWS4-HMAC-SHA256 ") {
		for _, part := range strings.Split(strings.TrimPrefix(a, "AWS4-HMAC-SHA256 "), ",") {
			part = strings.TrimSpace(part)
			if v, ok := strings.CutPrefix(part, "Credential="); ok {
				cred = v
			}
		}
	} else {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	fields := strings.Split(cred, "/")
	if len(fields) != 5 || fields[4] != "aws4_request" {
		return ServiceNone
	}
	switch fields[3] {
	case "sts":
		return ServiceSTS
	case "s3":
		return ServiceS3
	case "sns":
		return ServiceSNS
	}
	return ServiceNone
}

// stsActions and snsActions name the actions of the query-protocol
// emulators; an unsigned request naming one goes to that emulator, which
// then answers with its own MissingAuthenticationToken (or, for
// AssumeRoleWithWebIdentity, serves it: that call is unsigned by design).
var (
	stsActions = map[string]bool{
		"AssumeRoleWithWebIdentity": true,
		"AssumeRole":                true,
		"GetCallerIdentity":         true,
	}
	snsActions = map[string]bool{
		"CreateTopic": true, "DeleteTopic": true, "ListTopics": true, "GetTopicAttributes": true,
		"SetTopicAttributes": true, "Subscribe": true, "ConfirmSubscription": true, "Unsubscribe": true,
		"ListSubscriptions": true, "ListSubscriptionsByTopic": true, "Publish": true, "PublishBatch": true,
	}
)

// formAction looks for Action=<STS or SNS action> in the query or in the
// first maxSniffBody bytes of a form body, leaving the body whole for the
// handler.
func formAction(r *http.Request) Service {
	if s := actionService(r.URL.Query().Get("Action")); s != ServiceNone {
		return s
	}
	if !isFormPost(r) {
		return ServiceNone
	}
	prefix, err := io.ReadAll(io.LimitReader(r.Body, maxSniffBody+1))
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(prefix), r.Body))
	if err != nil {
		return ServiceNone
	}
	return actionService(formActionIn(prefix, len(prefix) <= maxSniffBody))
}

// isFormPost reports whether r is a POST of a URL-encoded form, the query
// protocol's request.
func isFormPost(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Body != nil && r.Body != http.NoBody &&
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
}

// formActionIn reads the Action of a form body from body, which is the
// whole body when complete and else its beginning, whose last pair may be
// cut short and is ignored. Pairs that do not decode do not hide the
// others; the handler refuses them itself.
func formActionIn(body []byte, complete bool) string {
	if !complete {
		i := bytes.LastIndexByte(body, '&')
		if i < 0 {
			return ""
		}
		body = body[:i]
	}
	form, _ := url.ParseQuery(string(body))
	return form.Get("Action")
}

func actionService(action string) Service {
	switch {
	case stsActions[action]:
		return ServiceSTS
	case snsActions[action]:
		return ServiceSNS
	}
	return ServiceNone
}

// hostOnly strips the port from a Host header value.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.Trim(h, "[]")
	}
	return strings.Trim(hostport, "[]")
}
