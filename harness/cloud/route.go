package cloud

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Service names an emulated endpoint family.
type Service string

// Services the router knows.
const (
	ServiceNone  Service = ""
	ServiceSTS   Service = "sts"
	ServiceOIDC  Service = "oidc"
	ServiceAdmin Service = "admin"
)

// maxSniffBody bounds how much of an unsigned form body the router reads to
// find the STS Action; STS web identity requests are far smaller.
const maxSniffBody = 64 << 10

// router picks the service for a request.
type router struct {
	// isIssuer reports whether host+path belongs to a hosted OIDC issuer.
	isIssuer func(host, path string) bool
}

// serviceFor decides which emulator answers r. It may replace r.Body with an
// equivalent reader when it had to look at a form body.
func (rt router) serviceFor(r *http.Request) Service {
	if strings.HasPrefix(r.URL.Path, "/_idlab/") {
		return ServiceAdmin
	}
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
	if isSTSAction(r) {
		return ServiceSTS
	}
	return ServiceNone
}

// serviceForHost maps AWS/GCP/Azure host names to a service.
func serviceForHost(host string) Service {
	host = strings.ToLower(host)
	switch {
	case host == "sts.amazonaws.com",
		strings.HasPrefix(host, "sts.") && strings.HasSuffix(host, ".amazonaws.com"),
		strings.HasPrefix(host, "sts-fips.") && strings.HasSuffix(host, ".amazonaws.com"):
		return ServiceSTS
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
	}
	return ServiceNone
}

// stsActions are the actions the STS emulator implements; an unsigned form
// naming one of them goes to STS.
var stsActions = map[string]bool{
	"AssumeRoleWithWebIdentity": true,
	"AssumeRole":                true,
	"GetCallerIdentity":         true,
}

// isSTSAction looks for Action=<STS action> in the query or a small form body,
// restoring the body for the handler.
func isSTSAction(r *http.Request) bool {
	if stsActions[r.URL.Query().Get("Action")] {
		return true
	}
	if r.Method != http.MethodPost || r.Body == nil ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSniffBody+1))
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	if err != nil || len(body) > maxSniffBody {
		return false
	}
	form, err := url.ParseQuery(string(body))
	return err == nil && stsActions[form.Get("Action")]
}

// hostOnly strips the port from a Host header value.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.Trim(h, "[]")
	}
	return strings.Trim(hostport, "[]")
}
