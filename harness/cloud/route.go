package cloud

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
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
	if s := formAction(r); s != ServiceNone {
		return s
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

// serviceForHost maps AWS/GCP/Azure host names to the first registered
// service whose host matcher takes it.
func serviceForHost(host string) Service {
	host = strings.ToLower(host)
	for _, s := range services {
		if s.host != nil && s.host(host) {
			return s.name
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
	for _, s := range services {
		if s.sigv4 != "" && s.sigv4 == fields[3] {
			return s.name
		}
	}
	return ServiceNone
}

// formAction looks for Action=<a registered service's action> in the query or in the
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

// actionService is the service whose actions include action: an unsigned
// request naming one goes to that emulator, which then answers with its own
// MissingAuthenticationToken (or, for AssumeRoleWithWebIdentity, serves it:
// that call is unsigned by design).
func actionService(action string) Service {
	for _, s := range services {
		if action != "" && slices.Contains(s.actions, action) {
			return s.name
		}
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
