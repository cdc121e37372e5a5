package eksagent

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token size bound: a projected token is a few kilobytes; anything far
// larger is refused before decoding.
const maxTokenSize = 16 << 10

// requestError is a refusal of the caller's request with its HTTP status
// (upstream RequestValidationError 400, AccessDeniedError 403).
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: 400, msg: fmt.Sprintf(format, args...)}
}

// claims is what the agent reads of a token without verifying it.
type claims struct {
	exp, nbf *time.Time
	podUID   string
	// podErr says why the pod UID is missing ("" when present).
	podErr string
}

// parseToken checks that raw is a JWT whose header and claims decode (the
// agent does not verify signatures; EKS Auth does) and reads exp, nbf and
// the pod UID. Errors use golang-jwt's wording, which upstream prints.
func parseToken(raw string) (claims, error) {
	if len(raw) > maxTokenSize {
		return claims{}, errors.New("token is malformed: token is too large")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return claims{}, errors.New("token is malformed: token contains an invalid number of segments")
	}
	if _, err := decodeSegment(parts[0]); err != nil {
		return claims{}, fmt.Errorf("token is malformed: could not %s header: %w", err.what, err.err)
	}
	body, err := decodeSegment(parts[1])
	if err != nil {
		return claims{}, fmt.Errorf("token is malformed: could not %s claim: %w", err.what, err.err)
	}
	var c claims
	var derr error
	if c.exp, derr = numericDate(body, "exp"); derr != nil {
		return claims{}, derr
	}
	if c.nbf, derr = numericDate(body, "nbf"); derr != nil {
		return claims{}, derr
	}
	c.podUID, c.podErr = podUID(body)
	return c, nil
}

type segmentError struct {
	what string
	err  error
}

func decodeSegment(seg string) (map[string]any, *segmentError) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return nil, &segmentError{"base64 decode", err}
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, &segmentError{"JSON decode", err}
	}
	if m == nil {
		return nil, &segmentError{"JSON decode", errors.New("not an object")}
	}
	return m, nil
}

// numericDate reads a NumericDate claim; absent is nil.
func numericDate(body map[string]any, name string) (*time.Time, error) {
	v, ok := body[name]
	if !ok || v == nil {
		return nil, nil
	}
	f, ok := v.(float64)
	if !ok {
		return nil, fmt.Errorf("token is malformed: could not JSON decode claim: %s is invalid", name)
	}
	sec := int64(f)
	t := time.Unix(sec, int64((f-float64(sec))*1e9))
	return &t, nil
}

// podUID is kubernetes.io.pod.uid, or why it is missing (upstream
// GetPodUIDFromToken's messages).
func podUID(body map[string]any) (string, string) {
	k8s, ok := body["kubernetes.io"].(map[string]any)
	if !ok {
		return "", "Service account token missing kubernetes.io claims"
	}
	pod, ok := k8s["pod"].(map[string]any)
	if !ok {
		return "", "Service account token missing pod claims"
	}
	uid, ok := pod["uid"].(string)
	if !ok {
		return "", "Service account token missing pod uid"
	}
	return uid, ""
}

// validateToken is upstream's validateToken: present, parseable, and not
// expired or not yet valid by its own claims.
func validateToken(raw string, now time.Time) (claims, error) {
	if raw == "" {
		return claims{}, badRequest("Service account token cannot be empty")
	}
	c, err := parseToken(raw)
	if err != nil {
		return claims{}, badRequest("Service account token cannot be parsed: %v", err)
	}
	switch {
	case c.exp != nil && !now.Before(*c.exp):
		return claims{}, badRequest("Service account token failed basic claim validations: token has invalid claims: token is expired")
	case c.nbf != nil && now.Before(*c.nbf):
		return claims{}, badRequest("Service account token failed basic claim validations: token has invalid claims: token is not valid yet")
	}
	return c, nil
}
