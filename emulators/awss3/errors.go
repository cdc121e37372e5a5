package awss3

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Namespace is the XML namespace of S3 REST documents.
const Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// field is one extra element of an S3 error document (BucketName, Key, ...),
// kept in order because S3 writes them in a fixed order.
type field struct{ name, value string }

// Error is an S3 REST error: a status, a code, a message and the extra
// elements real S3 adds. Handlers return it; writeError renders it once.
type Error struct {
	Status  int
	Code    string
	Message string
	Fields  []field
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// with appends an extra element and returns e for chaining.
func (e *Error) with(name, value string) *Error {
	e.Fields = append(e.Fields, field{name, value})
	return e
}

// newError builds an *Error with a formatted message.
func newError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Canonical S3 errors, with the wording of the S3 error code list.
func errAccessDenied() *Error { return newError(http.StatusForbidden, "AccessDenied", "Access Denied") }
func errNoSuchBucket(b string) *Error {
	return newError(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist").with("BucketName", b)
}
func errNoSuchKey(k string) *Error {
	return newError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.").with("Key", k)
}
func errNoSuchUpload(id string) *Error {
	return newError(http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.").with("UploadId", id)
}
func errMalformedXML() *Error {
	return newError(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
}
func errInvalidArgument(msg, name, value string) *Error {
	return newError(http.StatusBadRequest, "InvalidArgument", "%s", msg).with("ArgumentName", name).with("ArgumentValue", value)
}
func errInvalidRequest(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, codeInvalidRequest, format, args...)
}

const codeInvalidRequest = "InvalidRequest"

// errSigV2 is S3's answer to Signature Version 2 where S3 does not accept
// it: every bucket created after June 24, 2020, and every region opened
// since 2014.
func errSigV2() *Error {
	return errInvalidRequest("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
}
func errNotImplemented() *Error {
	return newError(http.StatusNotImplemented, "NotImplemented", "A header you provided implies functionality that is not implemented")
}
func errMethodNotAllowed(method, resource string) *Error {
	return newError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.").
		with("Method", method).with("ResourceType", resource)
}

// xmlText escapes character data as S3 does: markup characters only, so
// the newlines of CanonicalRequest and StringToSign stay readable.
var xmlText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;", "\r", "&#13;")

// errorBody renders the <Error> document.
func errorBody(e *Error, reqID, hostID string) []byte {
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<Error><Code>" + xmlText.Replace(e.Code) + "</Code><Message>" + xmlText.Replace(e.Message) + "</Message>")
	for _, f := range e.Fields {
		b.WriteString("<" + f.name + ">" + xmlText.Replace(f.value) + "</" + f.name + ">")
	}
	b.WriteString("<RequestId>" + reqID + "</RequestId><HostId>" + hostID + "</HostId></Error>")
	return []byte(b.String())
}

// newRequestID returns S3-shaped request IDs: 16 upper-case hex characters
// for x-amz-request-id and a base64 blob for x-amz-id-2.
func newRequestID() (id, id2 string) {
	var b [56]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:8])), base64.StdEncoding.EncodeToString(b[8:])
}

// writeError renders err as S3's <Error> document (no body for HEAD).
// Errors that are not *Error become InternalError 500.
func (rc *reqCtx) writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		rc.h.log.Error("s3 internal error", "request_id", rc.id, "err", err)
		e = newError(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	}
	body := errorBody(e, rc.id, rc.id2)
	rc.setCommonHeaders(w)
	if rc.r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}
