package azurearm

import (
	"encoding/json"
	"fmt"
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
	CodeAuthorizationFailed                = "AuthorizationFailed"
	CodeLinkedAuthorizationFailed          = "LinkedAuthorizationFailed"
	CodeResourceNotFound                   = "ResourceNotFound"
	CodeFailedIdentityOperation            = "FailedIdentityOperation"
	CodeInvalidRequestContent              = "InvalidRequestContent"
	CodeInvalidParameter                   = "InvalidParameter"
)

// Audiences are the token audiences ARM accepts, in the order its
// InvalidAuthenticationTokenAudience message lists them.
var Audiences = []string{"https://management.core.windows.net/", "https://management.core.windows.net", "https://management.azure.com/", "https://management.azure.com"}

// armError is an ARM error response, rendered by writeError.
type armError struct {
	status int
	code   string
	msg    string
	// service: the resource provider answered (x-ms-failure-cause
	// service), not ARM's front door (gateway).
	service bool
}

func (e *armError) Error() string { return e.code + ": " + e.msg }

func errMissingAuthorization() *armError {
	return &armError{status: http.StatusUnauthorized, code: CodeAuthenticationFailed, msg: "Authentication failed. The 'Authorization' header is missing."}
}

func errInvalidToken() *armError {
	return &armError{status: http.StatusUnauthorized, code: CodeInvalidAuthenticationToken, msg: "The access token is invalid."}
}

// netTime is how ARM's messages print a UTC time (.NET's invariant
// culture, as in microsoft/foundry-dev-tools#461: '6/15/2026 8:22:51 AM').
const netTime = "1/2/2006 3:04:05 PM"

func errExpired(exp, now time.Time) *armError {
	return &armError{status: http.StatusUnauthorized, code: CodeExpiredAuthenticationToken, msg: "The access token expiry UTC time '" + exp.UTC().Format(netTime) + "' is earlier than current UTC time '" + now.UTC().Format(netTime) + "'."}
}

func errAudience(aud string) *armError {
	return &armError{status: http.StatusUnauthorized, code: CodeInvalidAuthenticationTokenAudience, msg: "The access token has been obtained for wrong audience or resource '" + aud + "'. It should exactly match with one of the allowed audiences '" +
		strings.Join(Audiences, "','") + "'."}
}

func errMissingAPIVersion() *armError {
	return &armError{status: http.StatusBadRequest, code: CodeMissingAPIVersionParameter, msg: "The api-version query parameter (?api-version=) is required for all requests."}
}

// errAuthorization is ARM's refusal of an action the caller's role
// assignments do not grant at scope, worded as in
// Azure/aad-pod-identity#778 (MIC without Virtual Machine Contributor).
func errAuthorization(client, oid, action, scope string) *armError {
	return &armError{status: http.StatusForbidden, code: CodeAuthorizationFailed, msg: fmt.Sprintf(
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		client, oid, action, scope)}
}

// errLinkedAuthorization refuses a scale set write that assigns identities
// the caller may not assign, worded as AAD Pod Identity's troubleshooting
// page and Azure/aad-pod-identity#585 quote it; the scopes are joined with
// commas, as MIC's extractIdentitiesFromError reads them
// (pkg/cloudprovider/cloudprovider.go, e4e7eab).
func errLinkedAuthorization(client, oid, action, scope string, linked []string) *armError {
	return &armError{status: http.StatusForbidden, code: CodeLinkedAuthorizationFailed, msg: fmt.Sprintf(
		"The client '%s' with object id '%s' has permission to perform action '%s' on scope '%s'; however, it does not have permission to perform action '%s' on the linked scope(s) '%s' or the linked scope(s) are invalid.",
		client, oid, action, scope, ActionIdentityAssign, strings.Join(linked, ","))}
}

func errNotFound(typeAndName, rg string) *armError {
	return &armError{status: http.StatusNotFound, code: CodeResourceNotFound, msg: fmt.Sprintf(
		"The Resource '%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", typeAndName, rg)}
}

// errIdentityNotFound is the compute provider's answer to an identity
// that does not exist, as azure/azure-policy#1311 quotes it.
func errIdentityNotFound(resource, identity string) *armError {
	return &armError{status: http.StatusBadRequest, code: CodeFailedIdentityOperation, service: true, msg: fmt.Sprintf(
		"Identity operation for resource '%s' failed with error 'Failed to perform resource identity operation. Status: 'BadRequest'. Response: '{\"error\":{\"code\":\"BadRequest\",\"message\":\"Resource '%s' was not found.\"}}'.'.",
		resource, identity)}
}

func errInvalidBody(detail string) *armError {
	return &armError{status: http.StatusBadRequest, code: CodeInvalidRequestContent, msg: "The request content was invalid and could not be deserialized: '" + detail + "'."}
}

func errInvalidIdentityType(typ string) *armError {
	return &armError{status: http.StatusBadRequest, code: CodeInvalidParameter, service: true,
		msg: "The identity type '" + typ + "' is not supported by the lab's scale sets: UserAssigned or None (no system-assigned identity)."}
}

// writeError renders e as ARM does: JSON {"error": {"code", "message"}},
// x-ms-failure-cause gateway (ARM's front door refused it, no provider)
// or service (the resource provider did).
func writeError(w http.ResponseWriter, e *armError) {
	cause := "gateway"
	if e.service {
		cause = "service"
	}
	w.Header().Set("x-ms-failure-cause", cause)
	writeJSON(w, e.status, map[string]any{"error": map[string]string{"code": e.code, "message": e.msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
