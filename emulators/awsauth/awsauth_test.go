package awsauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
	"github.com/idlab/idlab/internal/sigv4"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// keyMap is a Keys backed by a map.
type keyMap map[string]struct {
	c awsiam.Credentials
	p awsiam.Principal
}

func (k keyMap) LookupAccessKey(id string) (awsiam.Credentials, awsiam.Principal, error) {
	e, ok := k[id]
	if !ok {
		return awsiam.Credentials{}, awsiam.Principal{}, awsiam.ErrUnknownAccessKey
	}
	return e.c, e.p, nil
}

var (
	userCreds = awsiam.Credentials{AccessKeyID: "AKIAUSEREXAMPLE00001", SecretAccessKey: "user-secret"}
	sessCreds = awsiam.Credentials{AccessKeyID: "ASIASESSEXAMPLE00001", SecretAccessKey: "sess-secret", SessionToken: "IQoJb3JpZ2luX2VjEtoken", Expiration: now.Add(time.Hour)}
	oldCreds  = awsiam.Credentials{AccessKeyID: "ASIAOLDEXAMPLE000001", SecretAccessKey: "old-secret", SessionToken: "IQoJb3JpZ2luX2VjEold", Expiration: now.Add(-time.Second)}
	keys      = keyMap{
		userCreds.AccessKeyID: {userCreds, awsiam.Principal{Type: awsiam.PrincipalUser, Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/alice"}},
		sessCreds.AccessKeyID: {sessCreds, awsiam.Principal{Type: awsiam.PrincipalAssumedRole, Account: "111122223333", ARN: "arn:aws:sts::111122223333:assumed-role/app/s"}},
		oldCreds.AccessKeyID:  {oldCreds, awsiam.Principal{Type: awsiam.PrincipalAssumedRole, Account: "111122223333", ARN: "arn:aws:sts::111122223333:assumed-role/app/old"}},
	}
)

func sign(t *testing.T, c awsiam.Credentials, service string, at time.Time, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "https://"+service+".us-west-2.amazonaws.com/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte(body))
	ac := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), ac, r, hex.EncodeToString(sum[:]), service, "us-west-2", at))
	return r
}

func TestAuthenticate(t *testing.T) {
	const body = "Action=ListTopics&Version=2010-03-31"
	cases := []struct {
		name    string
		req     func(t *testing.T) *http.Request
		service string
		want    Kind // 0: success
		who     string
	}{
		{"user key", func(t *testing.T) *http.Request { return sign(t, userCreds, "sns", now, body) }, "sns", 0, "arn:aws:iam::111122223333:user/alice"},
		{"session key with token", func(t *testing.T) *http.Request { return sign(t, sessCreds, "sns", now, body) }, "sns", 0, "arn:aws:sts::111122223333:assumed-role/app/s"},
		{"no signature", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodPost, "https://sns.us-west-2.amazonaws.com/", strings.NewReader(body))
		}, "sns", Missing, ""},
		{"malformed header", func(t *testing.T) *http.Request {
			r := sign(t, userCreds, "sns", now, body)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIA/20261123/us-west-2/sns/aws4_request")
			return r
		}, "sns", Malformed, ""},
		{"scoped to another service", func(t *testing.T) *http.Request { return sign(t, userCreds, "s3", now, body) }, "sns", WrongService, ""},
		{"unknown key", func(t *testing.T) *http.Request {
			return sign(t, awsiam.Credentials{AccessKeyID: "AKIANOSUCHKEY0000001", SecretAccessKey: "x"}, "sns", now, body)
		}, "sns", UnknownKey, ""},
		{"session key without token", func(t *testing.T) *http.Request {
			c := sessCreds
			c.SessionToken = ""
			return sign(t, c, "sns", now, body)
		}, "sns", BadToken, ""},
		{"session key with another token", func(t *testing.T) *http.Request {
			c := sessCreds
			c.SessionToken = oldCreds.SessionToken
			return sign(t, c, "sns", now, body)
		}, "sns", BadToken, ""},
		{"wrong secret", func(t *testing.T) *http.Request {
			c := userCreds
			c.SecretAccessKey = "not-the-secret"
			return sign(t, c, "sns", now, body)
		}, "sns", BadSignature, ""},
		{"body tampered after signing", func(t *testing.T) *http.Request {
			r := sign(t, userCreds, "sns", now, body)
			r.Body = http.NoBody
			return r
		}, "sns", BadSignature, ""},
		{"signed 16 minutes ago", func(t *testing.T) *http.Request { return sign(t, userCreds, "sns", now.Add(-16*time.Minute), body) }, "sns", Skewed, ""},
		{"signed 16 minutes ahead", func(t *testing.T) *http.Request { return sign(t, userCreds, "sns", now.Add(16*time.Minute), body) }, "sns", Skewed, ""},
		{"expired session", func(t *testing.T) *http.Request { return sign(t, oldCreds, "sns", now, body) }, "sns", Expired, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req(t)
			b := []byte(body)
			if r.Body == http.NoBody {
				b = []byte("Action=ListTopics&Version=2010-03-31&x=1")
			}
			res, err := Authenticate(r, keys, tc.service, now, sigv4.Options{Body: b})
			if tc.want == 0 {
				require.NoError(t, err)
				require.Equal(t, tc.who, res.Principal.ARN)
				return
			}
			var e *Error
			require.True(t, errors.As(err, &e), "want *Error, got %v", err)
			require.Equal(t, tc.want, e.Kind, e.Msg)
			require.Nil(t, res)
		})
	}
}

// QueryError: each failure in the query APIs' common error codes.
func TestQueryError(t *testing.T) {
	tests := []struct {
		kind   Kind
		status int
		code   string
	}{
		{Missing, 403, "MissingAuthenticationToken"},
		{Malformed, 400, "IncompleteSignature"},
		{UnknownKey, 403, "InvalidClientTokenId"},
		{BadToken, 403, "InvalidClientTokenId"},
		{PresignExpired, 403, "ExpiredToken"},
		{Expired, 403, "ExpiredToken"},
		{BadSignature, 403, "SignatureDoesNotMatch"},
		{Skewed, 403, "SignatureDoesNotMatch"},
		{WrongService, 403, "SignatureDoesNotMatch"},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String(), func(t *testing.T) {
			var e *awsxml.Error
			require.ErrorAs(t, QueryError(&Error{Kind: tc.kind, Msg: "m"}), &e)
			require.Equal(t, tc.status, e.Status)
			require.Equal(t, tc.code, e.Code)
		})
	}
	other := errors.New("other")
	require.Equal(t, other, QueryError(other))
}
