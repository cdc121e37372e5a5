package eksauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/idlab/idlab/emulators/awsauth"
)

// Error codes of the EKS Auth service model.
const (
	CodeAccessDenied       = "AccessDeniedException"
	CodeExpiredToken       = "ExpiredTokenException"
	CodeInternalServer     = "InternalServerException"
	CodeInvalidParameter   = "InvalidParameterException"
	CodeInvalidRequest     = "InvalidRequestException"
	CodeInvalidToken       = "InvalidTokenException"
	CodeResourceNotFound   = "ResourceNotFoundException"
	CodeServiceUnavailable = "ServiceUnavailableException"
	CodeThrottling         = "ThrottlingException"
)

// Authentication error codes of AWS's REST-JSON front ends.
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeInvalidSignature           = "InvalidSignatureException"
)

// statusOf is each model error's HTTP status (service-2.json httpStatusCode).
var statusOf = map[string]int{
	CodeAccessDenied:       http.StatusBadRequest,
	CodeExpiredToken:       http.StatusBadRequest,
	CodeInvalidParameter:   http.StatusBadRequest,
	CodeInvalidRequest:     http.StatusBadRequest,
	CodeInvalidToken:       http.StatusBadRequest,
	CodeResourceNotFound:   http.StatusNotFound,
	CodeThrottling:         http.StatusTooManyRequests,
	CodeInternalServer:     http.StatusInternalServerError,
	CodeServiceUnavailable: http.StatusServiceUnavailable,
}

// APIError is a wire error: rendered once by writeError.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// apiErr makes a model error with its status from the service model.
func apiErr(code, format string, args ...any) *APIError {
	st, ok := statusOf[code]
	if !ok {
		st = http.StatusBadRequest
	}
	return &APIError{Status: st, Code: code, Message: fmt.Sprintf(format, args...)}
}

// writeError renders err as a REST-JSON error. Anything that is not an
// *APIError is an InternalServerException whose detail goes to the log only.
func writeError(w http.ResponseWriter, log *slog.Logger, reqID string, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		log.Error("eks-auth internal error", "err", err, "request_id", reqID)
		ae = apiErr(CodeInternalServer, "An internal error occurred.")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", ae.Code)
	w.Header().Set("X-Amzn-RequestId", reqID)
	w.WriteHeader(ae.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": ae.Message})
}

// authError spells awsauth failures as REST-JSON AWS services do.
func authError(err error) error {
	var e *awsauth.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Kind {
	case awsauth.Missing:
		return &APIError{Status: http.StatusForbidden, Code: CodeMissingAuthenticationToken, Message: "Missing Authentication Token"}
	case awsauth.Malformed:
		return &APIError{Status: http.StatusBadRequest, Code: CodeIncompleteSignature, Message: e.Msg}
	case awsauth.UnknownKey, awsauth.BadToken:
		return &APIError{Status: http.StatusForbidden, Code: CodeUnrecognizedClient, Message: "The security token included in the request is invalid."}
	case awsauth.Expired, awsauth.PresignExpired:
		return &APIError{Status: http.StatusForbidden, Code: CodeExpiredToken, Message: "The security token included in the request is expired"}
	}
	return &APIError{Status: http.StatusForbidden, Code: CodeInvalidSignature, Message: e.Msg}
}
