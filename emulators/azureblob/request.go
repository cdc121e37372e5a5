package azureblob

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// BlobHostSuffix is the public cloud's blob endpoint suffix.
const BlobHostSuffix = ".blob.core.windows.net"

// Operations the emulator serves.
const (
	OpGetBlob           = "GetBlob"
	OpGetBlobProperties = "GetBlobProperties"
	OpPutBlob           = "PutBlob"
	OpListBlobs         = "ListBlobs"
)

// target is what a request addresses.
type target struct {
	Account, Container, Blob string
	Op                       string
	Action                   string // the RBAC data action Op needs
}

// parseTarget reads account, container and blob from the host (or, on a
// loopback host, the first path segment) and the escaped path, and the
// operation from method and query. Errors are storage errors to answer
// with (no account: 404 ResourceNotFound; names: 400 InvalidResourceName;
// operations not emulated: 400/405).
func parseTarget(method, host, escapedPath string, q url.Values) (target, *storageError) {
	var t target
	host = strings.ToLower(host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	path := strings.TrimPrefix(escapedPath, "/")
	if name, ok := strings.CutSuffix(host, BlobHostSuffix); ok {
		t.Account = name
	} else if isLoopback(host) {
		t.Account, path, _ = strings.Cut(path, "/")
	}
	if !accountNameRE.MatchString(t.Account) {
		return t, &storageError{status: http.StatusNotFound, code: CodeResourceNotFound, msg: msgNoResource}
	}
	rawContainer, rawBlob, _ := strings.Cut(path, "/")
	t.Container = rawContainer
	if rawBlob != "" {
		b, err := url.PathUnescape(rawBlob)
		if err != nil || !validBlobName(b) {
			return t, &storageError{status: http.StatusBadRequest, code: CodeInvalidResourceName, msg: msgResourceName}
		}
		t.Blob = b
	}
	if t.Container == "" {
		return t, unsupported(method, "account-level operations are not emulated")
	}
	if !containerNameRE.MatchString(t.Container) || strings.Contains(t.Container, "--") {
		return t, &storageError{status: http.StatusBadRequest, code: CodeInvalidResourceName, msg: msgResourceName}
	}
	if t.Blob == "" {
		if q.Get("restype") != "container" || q.Get("comp") != "list" {
			return t, unsupported(method, "container operations other than List Blobs are not emulated")
		}
		if method != http.MethodGet {
			return t, unsupported(method, "")
		}
		t.Op, t.Action = OpListBlobs, ActionBlobRead
		return t, nil
	}
	if c := q.Get("comp"); c != "" {
		return t, &storageError{status: http.StatusBadRequest, code: CodeInvalidQueryParameterValue,
			msg: "Value for one of the query parameters specified in the request URI is invalid.", extra: [][2]string{{"QueryParameterName", "comp"}, {"QueryParameterValue", c}}}
	}
	switch method {
	case http.MethodGet:
		t.Op, t.Action = OpGetBlob, ActionBlobRead
	case http.MethodHead:
		t.Op, t.Action = OpGetBlobProperties, ActionBlobRead
	case http.MethodPut:
		t.Op, t.Action = OpPutBlob, ActionBlobWrite
	default:
		return t, unsupported(method, "")
	}
	return t, nil
}

func unsupported(method, why string) *storageError {
	if method != http.MethodGet && method != http.MethodHead && method != http.MethodPut {
		return &storageError{status: http.StatusMethodNotAllowed, code: CodeUnsupportedHTTPVerb, msg: "The resource doesn't support specified Http Verb."}
	}
	return &storageError{status: http.StatusBadRequest, code: CodeInvalidQueryParameterValue,
		msg: "Value for one of the query parameters specified in the request URI is invalid.", extra: [][2]string{{"Reason", why}}}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// minBearerVersion is the first x-ms-version that accepts OAuth tokens.
const minBearerVersion = "2017-11-09"

// bearerToken extracts the token of "Authorization: Bearer TOKEN"; the
// scheme is case-insensitive. ok is false for another scheme or shape.
func bearerToken(h string) (token, scheme string, ok bool) {
	scheme, token, found := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", scheme, false
	}
	return token, scheme, true
}
