package azurearm

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// ARM error codes the emulator answers with.
const (
	CodeAuthenticationFailed               = "AuthenticationFailed"
	CodeInvalidAuthenticationToken         = "InvalidAuthenticationToken"
	CodeExpiredAuthenticationToken         = "ExpiredAuthenticationToken"
	CodeInvalidAuthenticationTokenAudience = "InvalidAuthenticationTokenAudience"
	CodeMissingAPIVersionParameter         = "MissingApiVersionParameter"
)

// Audiences are the token audiences ARM accepts, in the order its
// InvalidAuthenticationTokenAudience message lists them.
var Audiences = []string{"https://management.core.windows.net/", "https://management.core.windows.net", "https://management.azure.com/", "https://management.azure.com"}

// armError is an ARM error response, rendered by writeError.
type armError struct {
	status int
	code   string
	msg    string
}

func (e *armError) Error() string { return e.code + ": " + e.msg }

func errMissingAuthorization() *armError {
	return &armError{http.StatusUnauthorized, CodeAuthenticationFailed, "Authentication failed. The 'Authorization' header is missing."}
}

func errInvalidToken() *armError {
	return &armError{http.StatusUnauthorized, CodeInvalidAuthenticationToken, "The access token is invalid."}
}

// netTime is how ARM's messages print a UTC time (.NET's invariant
// culture, as in microsoft/foundry-dev-tools#461: '6/15/2026 8:22:51 AM').
const netTime = "1/2/2006 3:04:05 PM"

func errExpired(exp, now time.Time) *armError {
	return &armError{http.StatusUnauthorized, CodeExpiredAuthenticationToken,
		"The access token expiry UTC time '" + exp.UTC().Format(netTime) + "' is earlier than current UTC time '" + now.UTC().Format(netTime) + "'."}
}

func errAudience(aud string) *armError {
	return &armError{http.StatusUnauthorized, CodeInvalidAuthenticationTokenAudience,
		"The access token has been obtained for wrong audience or resource '" + aud + "'. It should exactly match with one of the allowed audiences '" +
			strings.Join(Audiences, "','") + "'."}
}

func errMissingAPIVersion() *armError {
	return &armError{http.StatusBadRequest, CodeMissingAPIVersionParameter, "The api-version query parameter (?api-version=) is required for all requests."}
}

// writeError renders e as ARM does: JSON {"error": {"code", "message"}},
// x-ms-failure-cause gateway (ARM's front door refused it, no provider).
func writeError(w http.ResponseWriter, e *armError) {
	w.Header().Set("x-ms-failure-cause", "gateway")
	writeJSON(w, e.status, map[string]any{"error": map[string]string{"code": e.code, "message": e.msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
