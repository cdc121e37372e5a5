// Package awsxml renders AWS query-protocol responses (STS, IAM, SNS): the
// result envelope with its ResponseMetadata and the ErrorResponse document,
// from typed errors that handlers return and one writer renders.
package awsxml

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Error is an AWS error to return on the wire.
type Error struct {
	Code    string
	Message string
	Status  int    // HTTP status; Defaults to StatusFor(Code).
	Type    string // "Sender" or "Receiver"; Defaults to Sender below 500.
}

// statuses are the HTTP statuses AWS's query APIs (STS, IAM, SNS) answer
// with for their error codes; codes not listed are 400.
var statuses = map[string]int{
	"AccessDenied":               http.StatusForbidden,
	"AuthorizationError":         http.StatusForbidden, // SNS
	"ExpiredToken":               http.StatusForbidden,
	"IDPRejectedClaim":           http.StatusForbidden,
	"IncompleteSignature":        http.StatusBadRequest,
	"InternalFailure":            http.StatusInternalServerError,
	"InvalidClientTokenId":       http.StatusForbidden,
	"MissingAuthenticationToken": http.StatusForbidden,
	"NoSuchEntity":               http.StatusNotFound, // IAM
	"NotFound":                   http.StatusNotFound, // SNS
	"OptInRequired":              http.StatusForbidden,
	"RegionDisabledException":    http.StatusForbidden,
	"ServiceUnavailable":         http.StatusServiceUnavailable,
	"SignatureDoesNotMatch":      http.StatusForbidden,
	"Throttling":                 http.StatusBadRequest,
}

// StatusFor is the HTTP status AWS answers code with: 403 for the
// authentication and authorization codes, 400 for the other client errors.
func StatusFor(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// New builds an *Error with the status AWS uses for code.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: StatusFor(code)}
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: status}
}

// NewRequestID returns a UUID-shaped request ID as AWS uses.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

type errorResponse struct {
	XMLName   xml.Name    `xml:"ErrorResponse"`
	Xmlns     string      `xml:"xmlns,attr"`
	Error     errorDetail `xml:"Error"`
	RequestID string      `xml:"RequestId"`
}

type errorDetail struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// WriteError renders err as an ErrorResponse in namespace xmlns. Errors that
// are not *Error become InternalFailure (500).
func WriteError(w http.ResponseWriter, xmlns, requestID string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: "InternalFailure", Message: "The request processing has failed because of an unknown error, exception or failure.", Status: http.StatusInternalServerError, Type: "Receiver"}
	}
	status, typ := e.Status, e.Type
	if status == 0 {
		status = StatusFor(e.Code)
	}
	if typ == "" {
		typ = "Sender"
		if status >= 500 {
			typ = "Receiver"
		}
	}
	body, _ := xml.Marshal(errorResponse{Xmlns: xmlns, Error: errorDetail{Type: typ, Code: e.Code, Message: e.Message}, RequestID: requestID})
	write(w, status, requestID, body)
}

// ResponseMetadata closes every query-protocol response.
type ResponseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// WriteResult renders v (a struct whose XMLName is the response element) as
// a 200 response.
func WriteResult(w http.ResponseWriter, requestID string, v any) error {
	body, err := xml.Marshal(v)
	if err != nil {
		return fmt.Errorf("marshal response: %w", err)
	}
	write(w, http.StatusOK, requestID, body)
	return nil
}

func write(w http.ResponseWriter, status int, requestID string, body []byte) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
