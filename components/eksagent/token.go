package eksagent

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// requestError is a refusal of the caller's request with its HTTP status
// (upstream RequestValidationError 400, AccessDeniedError 403).
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// validateToken is upstream's validateToken (internal/validation/request.go
// at aws/eks-pod-identity-agent@d4dc0f3): the token must be present, parse
// as a JWT with golang-jwt's ParseUnverified into RegisteredClaims, and pass
// golang-jwt's default claim validation at now (exp and nbf, no leeway,
// both failures reported together). The signature is not checked; EKS Auth
// does that. The messages are upstream's, with golang-jwt's wording.
func validateToken(raw string, now time.Time) error {
	if raw == "" {
		return badRequest("Service account token cannot be empty")
	}
	tok, _, err := jwt.NewParser().ParseUnverified(withoutSignature(raw), &jwt.RegisteredClaims{})
	if err != nil {
		return badRequest("Service account token cannot be parsed: %v", err)
	}
	if err := jwt.NewValidator(jwt.WithTimeFunc(func() time.Time { return now })).Validate(tok.Claims); err != nil {
		return badRequest("Service account token failed basic claim validations: %v", err)
	}
	return nil
}

// withoutSignature empties the signature segment of a three-segment token.
// Upstream pins golang-jwt v5.2.2, whose ParseUnverified never decodes the
// signature; this module's v5.3.1 refuses one that is not base64url
// ("could not base64 decode signature"). Without it the two agree.
func withoutSignature(raw string) string {
	if strings.Count(raw, ".") != 2 {
		return raw
	}
	return raw[:strings.LastIndex(raw, ".")+1]
}

// podUID is the token's kubernetes.io.pod.uid, which keys the credentials
// cache, read as upstream's cache-enhancements branch does
// (getPodUIDfromServiceAccountToken in internal/credsretriever/refreshing_cache.go
// at aws/eks-pod-identity-agent@6302d98): a token without it is refused
// with 400.
func podUID(raw string) (string, error) {
	uid, err := readPodUID(raw)
	if err != nil {
		return "", &requestError{status: http.StatusBadRequest, msg: "failed to get pod uid from service account token: " + err.Error()}
	}
	return uid, nil
}

func readPodUID(raw string) (string, error) {
	tok, _, err := jwt.NewParser().ParseUnverified(withoutSignature(raw), jwt.MapClaims{})
	if err != nil {
		return "", fmt.Errorf("Service account token cannot be parsed: %w", err)
	}
	claims, ok := tok.Claims.(jwt.MapClaims)
	if !ok {
		return "", errors.New("Service account token claims cannot be parsed")
	}
	k8s, ok := claims["kubernetes.io"].(map[string]any)
	if !ok {
		return "", errors.New("Service account token missing kubernetes.io claims")
	}
	pod, ok := k8s["pod"].(map[string]any)
	if !ok {
		return "", errors.New("Service account token missing pod claims")
	}
	uid, ok := pod["uid"].(string)
	if !ok {
		return "", errors.New("Service account token missing pod uid")
	}
	return uid, nil
}
