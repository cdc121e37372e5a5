package azureblob

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"time"
)

// Azure Storage error codes the emulator answers with.
const (
	CodeNoAuthenticationInformation     = "NoAuthenticationInformation"
	CodeInvalidAuthenticationInfo       = "InvalidAuthenticationInfo"
	CodeAuthenticationFailed            = "AuthenticationFailed"
	CodeAuthorizationPermissionMismatch = "AuthorizationPermissionMismatch"
	CodeContainerNotFound               = "ContainerNotFound"
	CodeBlobNotFound                    = "BlobNotFound"
	CodeResourceNotFound                = "ResourceNotFound"
	CodeInvalidResourceName             = "InvalidResourceName"
	CodeInvalidQueryParameterValue      = "InvalidQueryParameterValue"
	CodeUnsupportedHTTPVerb             = "UnsupportedHttpVerb"
	CodeInvalidHeaderValue              = "InvalidHeaderValue"
	CodeMissingRequiredHeader           = "MissingRequiredHeader"
	CodeBlobAlreadyExists               = "BlobAlreadyExists"
	CodeRequestBodyTooLarge             = "RequestBodyTooLarge"
	CodeInvalidRange                    = "InvalidRange"
)

// Messages Azure Storage gives with the codes.
const (
	msgAuthHeader   = "Server failed to authenticate the request. Please refer to the information in the www-authenticate header."
	msgAuthFailed   = "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature."
	msgPermission   = "This request is not authorized to perform this operation using this permission."
	msgNoContainer  = "The specified container does not exist."
	msgNoBlob       = "The specified blob does not exist."
	msgNoResource   = "The specified resource does not exist."
	msgResourceName = "The specifed resource name contains invalid characters."
)

// storageError is an Azure Storage error response, rendered by writeError.
type storageError struct {
	status int
	code   string
	msg    string
	// detail is AuthenticationErrorDetail (authentication errors).
	detail string
	// challenge asks for a bearer token of the account's tenant (401s).
	challengeTenant string
	// extra elements (QueryParameterName, HeaderName, ...).
	extra [][2]string
}

func (e *storageError) Error() string { return e.code + ": " + e.msg }

func errPermission() *storageError {
	return &storageError{status: http.StatusForbidden, code: CodeAuthorizationPermissionMismatch, msg: msgPermission}
}

func errInvalidAuth(tenant, detail string) *storageError {
	return &storageError{status: http.StatusUnauthorized, code: CodeInvalidAuthenticationInfo, msg: msgAuthHeader, detail: detail, challengeTenant: tenant}
}

func errAuthFailed(detail string) *storageError {
	return &storageError{status: http.StatusForbidden, code: CodeAuthenticationFailed, msg: msgAuthFailed, detail: detail}
}

// Challenge is the WWW-Authenticate value Azure Storage sends with a 401
// for tenant.
func Challenge(tenant string) string {
	return "Bearer authorization_uri=https://login.microsoftonline.com/" + tenant + "/oauth2/authorize resource_id=https://storage.azure.com"
}

// writeError renders e as Azure Storage does: the status, x-ms-error-code,
// and an XML body whose Message ends with the request ID and time (no body
// for HEAD).
func writeError(w http.ResponseWriter, r *http.Request, e *storageError, requestID string, now time.Time) {
	hd := w.Header()
	hd.Set("x-ms-error-code", e.code)
	if e.challengeTenant != "" {
		hd.Set("WWW-Authenticate", Challenge(e.challengeTenant))
	}
	type elem struct {
		XMLName xml.Name
		Value   string `xml:",chardata"`
	}
	body := struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
		Detail  string   `xml:"AuthenticationErrorDetail,omitempty"`
		Extra   []elem
	}{Code: e.code, Message: e.msg + "\nRequestId:" + requestID + "\nTime:" + now.UTC().Format("2006-01-02T15:04:05.0000000Z"), Detail: e.detail}
	for _, x := range e.extra {
		body.Extra = append(body.Extra, elem{XMLName: xml.Name{Local: x[0]}, Value: x[1]})
	}
	out, _ := xml.Marshal(body)
	out = append([]byte(xml.Header[:len(xml.Header)-1]), out...)
	hd.Set("Content-Type", "application/xml")
	if r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return
	}
	hd.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(e.status)
	_, _ = w.Write(out)
}
