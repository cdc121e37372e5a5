package jwtverify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// MaxTokenSize bounds the compact token. AWS STS accepts WebIdentityToken
// values of up to 20,000 characters; anything larger is rejected unparsed.
const MaxTokenSize = 20000

// Code classifies a verification failure.
type Code string

// Failure codes.
const (
	CodeMalformed       Code = "Malformed"       // not a compact JWS with JSON header and claims
	CodeUnsupportedAlg  Code = "UnsupportedAlg"  // alg not on the allow-list (none, HS*, ...)
	CodeKeyNotFound     Code = "KeyNotFound"     // no published key matches kid/alg
	CodeBadSignature    Code = "BadSignature"    // signature does not verify
	CodeExpired         Code = "Expired"         // exp is in the past (beyond leeway)
	CodeNotYetValid     Code = "NotYetValid"     // nbf is in the future (beyond leeway)
	CodeIssuedInFuture  Code = "IssuedInFuture"  // iat is in the future (beyond leeway)
	CodeMissingClaim    Code = "MissingClaim"    // a required claim (iss, exp) is absent
	CodeKeyFetch        Code = "KeyFetch"        // discovery or JWKS could not be fetched
	CodeInvalidKey      Code = "InvalidKey"      // a published key is unusable (weak RSA, enc key)
	CodeUnsupportedCrit Code = "UnsupportedCrit" // header lists critical extensions we do not know
)

// Error is a verification failure.
type Error struct {
	Code Code
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

func fail(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Header is the JOSE header fields we act on.
type Header struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid,omitempty"`
	Typ  string   `json:"typ,omitempty"`
	Crit []string `json:"crit,omitempty"`
}

// Claims are the registered claims plus every claim as decoded JSON.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	Expiry    *time.Time
	NotBefore *time.Time
	IssuedAt  *time.Time
	Raw       map[string]any
}

// String returns a string claim or "".
func (c Claims) String(name string) string {
	s, _ := c.Raw[name].(string)
	return s
}

// Token is a parsed (and, after Verify, verified) JWT.
type Token struct {
	Raw          string
	Header       Header
	Claims       Claims
	signingInput string
	signature    []byte
}

// ParseUnverified decodes a compact JWS without checking its signature, so a
// caller can read iss and aud to pick keys and policies. Never trust the
// result before Verify.
func ParseUnverified(raw string) (*Token, error) {
	if len(raw) == 0 {
		return nil, fail(CodeMalformed, "empty token")
	}
	if len(raw) > MaxTokenSize {
		return nil, fail(CodeMalformed, "token is %d bytes, more than %d", len(raw), MaxTokenSize)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fail(CodeMalformed, "token has %d parts, want 3 (header.payload.signature)", len(parts))
	}
	hb, err := decodeSegment(parts[0])
	if err != nil {
		return nil, &Error{Code: CodeMalformed, Msg: "header is not base64url", Err: err}
	}
	pb, err := decodeSegment(parts[1])
	if err != nil {
		return nil, &Error{Code: CodeMalformed, Msg: "payload is not base64url", Err: err}
	}
	sig, err := decodeSegment(parts[2])
	if err != nil {
		return nil, &Error{Code: CodeMalformed, Msg: "signature is not base64url", Err: err}
	}
	t := &Token{Raw: raw, signingInput: parts[0] + "." + parts[1], signature: sig}
	if err := strictUnmarshalObject(hb, &t.Header); err != nil {
		return nil, &Error{Code: CodeMalformed, Msg: "header is not a JSON object", Err: err}
	}
	if t.Header.Alg == "" {
		return nil, fail(CodeMalformed, "header has no alg")
	}
	var claims map[string]any
	if err := strictUnmarshalObject(pb, &claims); err != nil {
		return nil, &Error{Code: CodeMalformed, Msg: "payload is not a JSON object", Err: err}
	}
	if err := t.Claims.fill(claims); err != nil {
		return nil, err
	}
	return t, nil
}

// decodeSegment is base64url without padding, as RFC 7515 requires.
func decodeSegment(s string) ([]byte, error) {
	if strings.ContainsAny(s, "=+/ \t\r\n") {
		return nil, fmt.Errorf("segment contains characters outside unpadded base64url")
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// strictUnmarshalObject requires a single JSON object and keeps numbers exact.
func strictUnmarshalObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

func (c *Claims) fill(raw map[string]any) error {
	c.Raw = raw
	var ok bool
	if v, present := raw["iss"]; present {
		if c.Issuer, ok = v.(string); !ok {
			return fail(CodeMalformed, "iss is not a string")
		}
	}
	if v, present := raw["sub"]; present {
		if c.Subject, ok = v.(string); !ok {
			return fail(CodeMalformed, "sub is not a string")
		}
	}
	switch v := raw["aud"].(type) {
	case nil:
		if _, present := raw["aud"]; present {
			return fail(CodeMalformed, "aud is null")
		}
	case string:
		c.Audience = []string{v}
	case []any:
		for _, a := range v {
			s, ok := a.(string)
			if !ok {
				return fail(CodeMalformed, "aud array holds a non-string")
			}
			c.Audience = append(c.Audience, s)
		}
	default:
		return fail(CodeMalformed, "aud is neither a string nor an array of strings")
	}
	for name, dst := range map[string]**time.Time{"exp": &c.Expiry, "nbf": &c.NotBefore, "iat": &c.IssuedAt} {
		v, present := raw[name]
		if !present {
			continue
		}
		n, ok := v.(json.Number)
		if !ok {
			return fail(CodeMalformed, "%s is not a NumericDate", name)
		}
		f, err := n.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
			return fail(CodeMalformed, "%s %s is not a valid NumericDate", name, n)
		}
		sec, frac := math.Modf(f)
		t := time.Unix(int64(sec), int64(frac*1e9)).UTC()
		*dst = &t
	}
	return nil
}
