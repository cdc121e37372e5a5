package gcpiam

import (
	"encoding/json"
	"net/http"
)

// apiError is a Google API error, rendered once by writeAPIError as
// {"error":{"code","message","status","details"}} (google.rpc.Status in
// JSON, what googleapi.CheckResponse parses).
type apiError struct {
	Code    int
	Status  string
	Message string
	Details []any
}

func (e *apiError) Error() string { return e.Status + ": " + e.Message }

// errorInfo is a google.rpc.ErrorInfo detail.
func errorInfo(reason, domain string, metadata map[string]string) map[string]any {
	d := map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": domain}
	if len(metadata) > 0 {
		d["metadata"] = metadata
	}
	return d
}

func apiNotFound(msg string) *apiError {
	return &apiError{Code: http.StatusNotFound, Status: "NOT_FOUND", Message: msg}
}

func apiInvalid(msg string) *apiError {
	return &apiError{Code: http.StatusBadRequest, Status: "INVALID_ARGUMENT", Message: msg}
}

// Messages of Google's front end for bearer authentication failures.
const (
	msgCredentialsMissing = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	msgCredentialsInvalid = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	msgInsufficientScopes = "Request had insufficient authentication scopes."
)

func apiUnauthenticated(missing bool, service, method string) *apiError {
	msg, reason := msgCredentialsInvalid, "ACCESS_TOKEN_TYPE_UNSUPPORTED"
	if missing {
		msg, reason = msgCredentialsMissing, "CREDENTIALS_MISSING"
	}
	return &apiError{Code: http.StatusUnauthorized, Status: "UNAUTHENTICATED", Message: msg,
		Details: []any{errorInfo(reason, "googleapis.com", map[string]string{"service": service, "method": method})}}
}

func apiPermissionDenied(permission, resource string) *apiError {
	return &apiError{Code: http.StatusForbidden, Status: "PERMISSION_DENIED",
		Message: "Permission '" + permission + "' denied on resource (or it may not exist).",
		Details: []any{errorInfo("IAM_PERMISSION_DENIED", "iam.googleapis.com", map[string]string{"permission": permission})}}
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	if e.Code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
	}
	body := map[string]any{"code": e.Code, "message": e.Message, "status": e.Status}
	if len(e.Details) > 0 {
		body["details"] = e.Details
	}
	writeJSON(w, e.Code, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// stsError is an OAuth 2.0 error of Google's STS (RFC 6749 section 5.2):
// {"error": CODE, "error_description": MSG}, HTTP 400 (401 for
// invalid_client).
type stsError struct {
	Code        string
	Description string
}

func (e *stsError) Error() string { return e.Code + ": " + e.Description }

func writeSTSError(w http.ResponseWriter, e *stsError) {
	status := http.StatusBadRequest
	if e.Code == "invalid_client" {
		status = http.StatusUnauthorized
	}
	writeJSON(w, status, map[string]string{"error": e.Code, "error_description": e.Description})
}

func jsonEncode(w http.ResponseWriter, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
