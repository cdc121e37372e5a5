// Package probe is the contract between the SDK probe that runs in scenario
// pods and the scenarios that read it: one JSON line of Result. It imports
// nothing heavy, so the probe binary stays small.
package probe

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Result is the probe's one line of output.
type Result struct {
	OK           bool   `json:"ok"`
	Arn          string `json:"arn,omitempty"`
	Account      string `json:"account,omitempty"`
	UserID       string `json:"userId,omitempty"`
	Output       string `json:"output,omitempty"` // the call's payload: object text, message ID
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	// Peer is the IP address a raw HTTP call (probe http) connected to.
	Peer string `json:"peer,omitempty"`
	// RequestID is the AWS request ID of the response the result comes
	// from: the call's, or the credential provider's when getting
	// credentials failed. Scenarios find the call's decision by it, as
	// other suites act on the same resources at the same time.
	RequestID string `json:"requestId,omitempty"`
}

// Parse reads the last JSON line of the probe's output.
func Parse(out string) (Result, error) {
	var r Result
	if err := ParseInto(out, &r); err != nil {
		return Result{}, err
	}
	return r, nil
}

// ParseInto decodes the last JSON line of the probe's output into v, for
// modes whose line carries more than Result.
func ParseInto(out string, v any) error {
	var last string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "{") {
			last = l
		}
	}
	if last == "" {
		return fmt.Errorf("probe printed no result: %q", out)
	}
	if err := json.Unmarshal([]byte(last), v); err != nil {
		return fmt.Errorf("probe result %q: %w", last, err)
	}
	return nil
}

// CallPrefix starts each line the long-running probe modes (rotate,
// rotate-cached) print per AWS call, before their final Result line.
const CallPrefix = "call "

// Call is one AWS call a long-running probe made, as the SDK made it.
type Call struct {
	At time.Time `json:"at"`
	// Op is the API operation: AssumeRoleWithWebIdentity (the SDK's
	// credential provider refreshing) or GetCallerIdentity (the app's call).
	Op        string `json:"op"`
	RequestID string `json:"requestId,omitempty"`
	// Token is the web identity token AssumeRoleWithWebIdentity presented.
	Token *TokenInfo `json:"token,omitempty"`
	// FileToken is the token in the token file when GetCallerIdentity ran.
	FileToken *TokenInfo `json:"fileToken,omitempty"`
	// AccessKeyID signed GetCallerIdentity: a new one means new STS credentials.
	AccessKeyID  string `json:"accessKeyId,omitempty"`
	OK           bool   `json:"ok"`
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

// TokenInfo names a service-account token without revealing it: its iat and
// exp, and a hash of its jti.
type TokenInfo struct {
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
	ID       string `json:"id"` // first 12 hex digits of sha256(jti)
}

// ParseToken reads the claims of a JWT without verifying it (the probe only
// names the token it saw; STS verifies).
func ParseToken(raw string) (TokenInfo, error) {
	parts := strings.Split(strings.TrimSpace(raw), ".")
	if len(parts) != 3 {
		return TokenInfo{}, fmt.Errorf("token has %d parts, want 3", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return TokenInfo{}, fmt.Errorf("token payload: %w", err)
	}
	var c struct {
		IssuedAt int64  `json:"iat"`
		Expiry   int64  `json:"exp"`
		ID       string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return TokenInfo{}, fmt.Errorf("token claims: %w", err)
	}
	if c.ID == "" || c.IssuedAt == 0 || c.Expiry == 0 {
		return TokenInfo{}, fmt.Errorf("token lacks jti, iat or exp")
	}
	sum := sha256.Sum256([]byte(c.ID))
	return TokenInfo{IssuedAt: c.IssuedAt, Expiry: c.Expiry, ID: hex.EncodeToString(sum[:6])}, nil
}

// ParseCalls reads the call lines of a long-running probe's output.
func ParseCalls(out string) ([]Call, error) {
	var calls []Call
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		l, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), CallPrefix)
		if !ok {
			continue
		}
		var c Call
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			return nil, fmt.Errorf("probe call line %q: %w", l, err)
		}
		calls = append(calls, c)
	}
	return calls, sc.Err()
}

// StormResult is the line of `probe storm`, `storm-gcs` and `storm-blob`:
// one pod of an identity storm (scenarios/storm) trades its token, reads
// its own object and tries another pod's, timing each step as the SDK
// made it.
type StormResult struct {
	// Exchange is the credential exchange: the AWS SDK's provider (token
	// file read, then STS AssumeRoleWithWebIdentity for IRSA), the Google
	// token source's first Token() (the GKE metadata server's), or
	// azidentity's GetToken (Entra).
	Exchange Result `json:"exchange"`
	// Own is the read of the pod's own object (s3:GetObject, a Cloud
	// Storage read, Get Blob); Other of another pod's. RequestID names
	// their decisions for AWS and Azure; Google's storage decisions carry
	// none.
	Own   Result `json:"own"`
	Other Result `json:"other"`
	// The steps' wall times in milliseconds, as the pod measured them.
	ExchangeMillis float64 `json:"exchangeMillis"`
	OwnMillis      float64 `json:"ownMillis"`
	OtherMillis    float64 `json:"otherMillis"`
}
