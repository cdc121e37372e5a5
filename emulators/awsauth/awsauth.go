// Package awsauth authenticates SigV4-signed requests against the access
// keys awsiam holds. Every AWS emulator (STS, S3, SNS, EKS Auth) calls it and
// then spells the failure in its own service's error codes, because the
// same fault is InvalidClientTokenId at STS and InvalidAccessKeyId at S3.
package awsauth

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
	"github.com/idlab/idlab/internal/sigv4"
)

// Keys finds the credentials and principal behind an access key ID;
// *awsiam.IAM implements it.
type Keys interface {
	LookupAccessKey(accessKeyID string) (awsiam.Credentials, awsiam.Principal, error)
}

// Kind classifies an authentication failure independently of any service's
// error vocabulary.
type Kind int

// Failure kinds, in the order Authenticate checks them.
const (
	// Missing: the request carries no SigV4 material at all. S3 treats such
	// a request as anonymous; the query APIs answer MissingAuthenticationToken.
	Missing Kind = iota + 1
	// Malformed: Authorization header or presigned query is incomplete or
	// unparsable (IncompleteSignature, AuthorizationHeaderMalformed,
	// AuthorizationQueryParametersError).
	Malformed
	// WrongService: the credential scope names another service.
	WrongService
	// UnknownKey: no such access key ID.
	UnknownKey
	// BadToken: temporary credentials without their session token, or with
	// another one.
	BadToken
	// Skewed: X-Amz-Date is more than 15 minutes from the server clock.
	Skewed
	// PresignExpired: a presigned URL past its X-Amz-Expires.
	PresignExpired
	// BadSignature: the signature does not match (wrong secret, tampered
	// request, wrong scope date).
	BadSignature
	// Expired: the session's credentials have expired.
	Expired
)

var kindNames = map[Kind]string{
	Missing: "Missing", Malformed: "Malformed", WrongService: "WrongService", UnknownKey: "UnknownKey",
	BadToken: "BadToken", Skewed: "Skewed", PresignExpired: "PresignExpired", BadSignature: "BadSignature", Expired: "Expired",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is an authentication failure. SigV4 carries the sigv4 package's own
// code and message when the failure came from parsing or verifying the
// signature, so callers can keep AWS's exact wording.
type Error struct {
	Kind  Kind
	Msg   string
	SigV4 *sigv4.Error
}

func (e *Error) Error() string { return e.Kind.String() + ": " + e.Msg }

// Result is an authenticated caller.
type Result struct {
	Principal   awsiam.Principal
	Credentials awsiam.Credentials
	Signature   *sigv4.Signature
}

// Authenticate parses and verifies r's SigV4 signature for service, finds
// the caller's key with keys, and checks the session token and expiry at now.
// opt carries the body for form-encoded APIs and the S3 signing rules.
func Authenticate(r *http.Request, keys Keys, service string, now time.Time, opt sigv4.Options) (*Result, error) {
	if !sigv4.Present(r) {
		return nil, &Error{Kind: Missing, Msg: "Request is missing Authentication Token"}
	}
	sig, err := sigv4.Parse(r)
	if err != nil {
		return nil, fromSigV4(err)
	}
	if sig.Service != service {
		return nil, &Error{Kind: WrongService, Msg: fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", service)}
	}
	creds, who, err := keys.LookupAccessKey(sig.AccessKeyID)
	if err != nil {
		return nil, &Error{Kind: UnknownKey, Msg: fmt.Sprintf("unknown access key ID %q", sig.AccessKeyID)}
	}
	if creds.SessionToken != "" && sig.SecurityToken != creds.SessionToken {
		return nil, &Error{Kind: BadToken, Msg: "session token missing or not the one issued with this access key"}
	}
	if err := sigv4.Verify(r, sig, creds.SecretAccessKey, now, opt); err != nil {
		return nil, fromSigV4(err)
	}
	if !creds.Expiration.IsZero() && !now.Before(creds.Expiration) {
		return nil, &Error{Kind: Expired, Msg: "The security token included in the request is expired"}
	}
	return &Result{Principal: who, Credentials: creds, Signature: sig}, nil
}

func fromSigV4(err error) error {
	var se *sigv4.Error
	if !errors.As(err, &se) {
		return err
	}
	kind := BadSignature
	switch se.Code {
	case sigv4.CodeMissingAuthenticationToken:
		kind = Missing
	case sigv4.CodeIncompleteSignature, sigv4.CodeAuthorizationQueryParametersError, sigv4.CodeInvalidArgument:
		kind = Malformed
	case sigv4.CodeRequestExpired:
		kind = Skewed
	case sigv4.CodePresignExpired:
		kind = PresignExpired
	}
	return &Error{Kind: kind, Msg: se.Msg, SigV4: se}
}

// QueryError spells an authentication failure in the common error codes
// of AWS's query APIs (STS, IAM, SNS): MissingAuthenticationToken,
// IncompleteSignature, InvalidClientTokenId, ExpiredToken and
// SignatureDoesNotMatch. An error that is no *Error is returned as it is.
func QueryError(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Kind {
	case Missing:
		return awsxml.Errorf(403, "MissingAuthenticationToken", "%s", e.Msg)
	case Malformed:
		return awsxml.Errorf(400, "IncompleteSignature", "%s", e.Msg)
	case UnknownKey, BadToken:
		return awsxml.Errorf(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
	case PresignExpired, Expired:
		return awsxml.Errorf(403, "ExpiredToken", "%s", e.Msg)
	}
	return awsxml.Errorf(403, "SignatureDoesNotMatch", "%s", e.Msg)
}
