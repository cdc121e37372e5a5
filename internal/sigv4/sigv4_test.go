package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"
)

var (
	signTime = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	creds    = aws.Credentials{AccessKeyID: "AKIAEXAMPLEEXAMPLE12", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", SessionToken: "tok"}
)

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signed builds a request the way aws-sdk-go-v2 signs an STS query call.
func signed(t *testing.T, body string, mutate func(*http.Request)) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "https://sts.us-west-2.amazonaws.com/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if mutate != nil {
		mutate(r)
	}
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), creds, r, hashHex([]byte(body)), "sts", "us-west-2", signTime))
	return r
}

func expectCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *Error
	require.True(t, errors.As(err, &e), "want *Error, got %v", err)
	require.Equal(t, code, e.Code, e.Msg)
}

func TestVerifySDKSignedRequests(t *testing.T) {
	body := "Action=GetCallerIdentity&Version=2011-06-15"
	r := signed(t, body, nil)
	sig, err := Parse(r)
	require.NoError(t, err)
	require.Equal(t, creds.AccessKeyID, sig.AccessKeyID)
	require.Equal(t, "us-west-2", sig.Region)
	require.Equal(t, "sts", sig.Service)
	require.Equal(t, "tok", sig.SecurityToken)
	require.Contains(t, sig.SignedHeaders, "host")
	require.NoError(t, Verify(r, sig, creds.SecretAccessKey, signTime.Add(time.Minute), Options{Body: []byte(body)}))

	withQuery := httptest.NewRequest(http.MethodGet, "https://s3.amazonaws.com/bucket/a%20key/x?list-type=2&prefix=a%2Fb&max-keys=5", nil)
	withQuery.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	require.NoError(t, signer.SignHTTP(context.Background(), creds, withQuery, UnsignedPayload, "s3", "us-east-1", signTime))
	sig, err = Parse(withQuery)
	require.NoError(t, err)
	require.NoError(t, Verify(withQuery, sig, creds.SecretAccessKey, signTime, Options{S3: true}))
}

func TestVerifyPresigned(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://bucket.s3.amazonaws.com/key.txt", nil)
	u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(context.Background(), creds, withExpires(r, 900), UnsignedPayload, "s3", "us-east-1", signTime)
	require.NoError(t, err)
	pr := httptest.NewRequest(http.MethodGet, u, nil)
	sig, err := Parse(pr)
	require.NoError(t, err)
	require.True(t, sig.Presigned)
	require.Equal(t, 900*time.Second, sig.Expires)
	require.NoError(t, Verify(pr, sig, creds.SecretAccessKey, signTime.Add(10*time.Minute), Options{S3: true}))
	expectCode(t, Verify(pr, sig, creds.SecretAccessKey, signTime.Add(16*time.Minute), Options{S3: true}), CodePresignExpired)
}

func withExpires(r *http.Request, secs int) *http.Request {
	q := r.URL.Query()
	q.Set("X-Amz-Expires", "900")
	r.URL.RawQuery = q.Encode()
	return r
}

func TestVerifyRejects(t *testing.T) {
	body := "Action=GetCallerIdentity&Version=2011-06-15"
	tests := []struct {
		name string
		req  func() *http.Request
		now  time.Time
		code string
		body string
	}{
		{"tampered body", func() *http.Request { return signed(t, body, nil) }, signTime, CodeSignatureDoesNotMatch, body + "&x=1"},
		{"tampered signed header", func() *http.Request {
			r := signed(t, body, nil)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, signTime, CodeSignatureDoesNotMatch, body},
		{"tampered host", func() *http.Request {
			r := signed(t, body, nil)
			r.Host = "sts.amazonaws.com"
			return r
		}, signTime, CodeSignatureDoesNotMatch, body},
		{"tampered signature", func() *http.Request {
			r := signed(t, body, nil)
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-4]+"0000")
			return r
		}, signTime, CodeSignatureDoesNotMatch, body},
		{"scope date differs from X-Amz-Date", func() *http.Request {
			r := signed(t, body, nil)
			r.Header.Set("X-Amz-Date", "20261123T120000Z")
			return r
		}, signTime.Add(24 * time.Hour), CodeSignatureDoesNotMatch, body},
		{"clock skew beyond 15 minutes", func() *http.Request { return signed(t, body, nil) }, signTime.Add(16 * time.Minute), CodeRequestExpired, body},
		{"request from the future", func() *http.Request { return signed(t, body, nil) }, signTime.Add(-16 * time.Minute), CodeRequestExpired, body},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			sig, err := Parse(r)
			require.NoError(t, err)
			expectCode(t, Verify(r, sig, creds.SecretAccessKey, tc.now, Options{Body: []byte(tc.body)}), tc.code)
		})
	}
	r := signed(t, body, nil)
	sig, err := Parse(r)
	require.NoError(t, err)
	expectCode(t, Verify(r, sig, "wrong-secret", signTime, Options{Body: []byte(body)}), CodeSignatureDoesNotMatch)
}

func TestParseRejects(t *testing.T) {
	good := "AWS4-HMAC-SHA256 Credential=AKIA/20261122/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("a", 64)
	tests := []struct{ name, auth, code string }{
		{"other algorithm", "AWS4-HMAC-SHA512 Credential=x", CodeIncompleteSignature},
		{"sigv2", "AWS AKIA:sig", CodeIncompleteSignature},
		{"missing signature", "AWS4-HMAC-SHA256 Credential=AKIA/20261122/us-east-1/sts/aws4_request, SignedHeaders=host", CodeIncompleteSignature},
		{"duplicate element", good + ", Signature=" + strings.Repeat("b", 64), CodeIncompleteSignature},
		{"short scope", strings.Replace(good, "/us-east-1/sts/aws4_request", "/sts/aws4_request", 1), CodeIncompleteSignature},
		{"bad scope date", strings.Replace(good, "20261122", "2026112", 1), CodeIncompleteSignature},
		{"bad terminator", strings.Replace(good, "aws4_request", "aws5_request", 1), CodeIncompleteSignature},
		{"host not signed", strings.Replace(good, "host;x-amz-date", "x-amz-date", 1), CodeSignatureDoesNotMatch},
		{"unsorted signed headers", strings.Replace(good, "host;x-amz-date", "x-amz-date;host", 1), CodeIncompleteSignature},
		{"uppercase signed header", strings.Replace(good, "host;x-amz-date", "Host;x-amz-date", 1), CodeIncompleteSignature},
		{"signature not hex", strings.Replace(good, strings.Repeat("a", 64), strings.Repeat("z", 64), 1), CodeIncompleteSignature},
		{"unknown element", good + ", Foo=bar", CodeIncompleteSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAuthorization(tc.auth)
			expectCode(t, err, tc.code)
		})
	}
	r := httptest.NewRequest(http.MethodGet, "https://sts.amazonaws.com/", nil)
	_, err := Parse(r)
	expectCode(t, err, CodeMissingAuthenticationToken)
	r.Header.Set("Authorization", good)
	_, err = Parse(r)
	expectCode(t, err, CodeIncompleteSignature) // no X-Amz-Date
	for _, q := range []string{
		"X-Amz-Algorithm=AWS4-HMAC-SHA256",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261122%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261122T120000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("a", 64),
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261122%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261122T120000Z&X-Amz-Expires=abc&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("a", 64),
	} {
		_, err := Parse(httptest.NewRequest(http.MethodGet, "https://b.s3.amazonaws.com/k?"+q, nil))
		expectCode(t, err, CodeAuthorizationQueryParametersError)
	}
}

func TestVerifyDateHeaderInsteadOfXAmzDate(t *testing.T) {
	body := "Action=GetCallerIdentity&Version=2011-06-15"
	for _, layout := range []string{http.TimeFormat, TimeFormat} {
		t.Run(layout, func(t *testing.T) {
			r := signed(t, body, nil)
			// Re-sign by hand with the Date header carrying the time.
			r.Header.Del("X-Amz-Date")
			r.Header.Set("Date", signTime.Format(layout))
			sig, err := ParseAuthorization(r.Header.Get("Authorization"))
			require.NoError(t, err)
			sig.SignedHeaders = []string{"content-type", "date", "host"}
			sig.AmzDate, sig.Time = signTime.Format(TimeFormat), signTime
			creq, err := CanonicalRequest(r, sig, Options{Body: []byte(body)})
			require.NoError(t, err)
			sig.Signature = signature(creds.SecretAccessKey, sig, creq)
			r.Header.Set("Authorization", Algorithm+" Credential="+creds.AccessKeyID+"/"+sig.Scope()+", SignedHeaders=content-type;date;host, Signature="+sig.Signature)

			got, err := Parse(r)
			require.NoError(t, err)
			require.Equal(t, signTime, got.Time)
			require.NoError(t, Verify(r, got, creds.SecretAccessKey, signTime, Options{Body: []byte(body)}))
		})
	}
	r := signed(t, body, nil)
	r.Header.Del("X-Amz-Date")
	_, err := Parse(r)
	expectCode(t, err, CodeIncompleteSignature)
}

// STS presigned GetCallerIdentity (the EKS aws-iam-authenticator token)
// signs the hash of the empty body, not UNSIGNED-PAYLOAD.
func TestVerifyPresignedQueryAPI(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15", nil)
	r.Header.Set("x-k8s-aws-id", "my-cluster")
	q := r.URL.Query()
	q.Set("X-Amz-Expires", "60")
	r.URL.RawQuery = q.Encode()
	u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, hashHex(nil), "sts", "us-west-2", signTime)
	require.NoError(t, err)
	pr := httptest.NewRequest(http.MethodGet, u, nil)
	for k, v := range hdr {
		pr.Header[k] = v
	}
	sig, err := Parse(pr)
	require.NoError(t, err)
	require.True(t, sig.Presigned)
	require.Equal(t, "tok", sig.SecurityToken)
	require.Contains(t, sig.SignedHeaders, "x-k8s-aws-id")
	require.NoError(t, Verify(pr, sig, creds.SecretAccessKey, signTime.Add(30*time.Second), Options{}))
	// STS ignores X-Amz-Expires: the URL lives in the 15-minute window.
	require.NoError(t, Verify(pr, sig, creds.SecretAccessKey, signTime.Add(61*time.Second), Options{}))
	expectCode(t, Verify(pr, sig, creds.SecretAccessKey, signTime.Add(16*time.Minute), Options{}), CodeRequestExpired)
	pr.Header.Set("x-k8s-aws-id", "other-cluster")
	expectCode(t, Verify(pr, sig, creds.SecretAccessKey, signTime, Options{}), CodeSignatureDoesNotMatch)
}

func TestParsePresignedRejects(t *testing.T) {
	good := url.Values{
		"X-Amz-Algorithm":     {Algorithm},
		"X-Amz-Credential":    {"AKIAEXAMPLE/20261122/us-east-1/s3/aws4_request"},
		"X-Amz-Date":          {"20261122T120000Z"},
		"X-Amz-Expires":       {"60"},
		"X-Amz-SignedHeaders": {"host"},
		"X-Amz-Signature":     {strings.Repeat("a", 64)},
	}
	tests := []struct {
		name   string
		mutate func(url.Values)
	}{
		{"missing expires", func(v url.Values) { v.Del("X-Amz-Expires") }},
		{"expires zero", func(v url.Values) { v.Set("X-Amz-Expires", "0") }},
		{"expires over a week", func(v url.Values) { v.Set("X-Amz-Expires", "604801") }},
		{"expires negative", func(v url.Values) { v.Set("X-Amz-Expires", "-1") }},
		{"expires not a number", func(v url.Values) { v.Set("X-Amz-Expires", "1h") }},
		{"other algorithm", func(v url.Values) { v.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA1") }},
		{"bad date", func(v url.Values) { v.Set("X-Amz-Date", "2026-11-22T12:00:00Z") }},
		{"missing signature", func(v url.Values) { v.Del("X-Amz-Signature") }},
		{"short signature", func(v url.Values) { v.Set("X-Amz-Signature", "abc") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{}
			for k, vs := range good {
				v[k] = append([]string(nil), vs...)
			}
			tc.mutate(v)
			_, err := Parse(httptest.NewRequest(http.MethodGet, "https://b.s3.amazonaws.com/k?"+v.Encode(), nil))
			var e *Error
			require.True(t, errors.As(err, &e), "want *Error, got %v", err)
			require.Contains(t, []string{CodeAuthorizationQueryParametersError, CodeIncompleteSignature}, e.Code)
		})
	}
	v := url.Values{}
	for k, vs := range good {
		v[k] = vs
	}
	v.Set("X-Amz-Expires", "604800")
	s, err := Parse(httptest.NewRequest(http.MethodGet, "https://b.s3.amazonaws.com/k?"+v.Encode(), nil))
	require.NoError(t, err)
	require.Equal(t, MaxPresignExpiry, s.Expires)
}

func TestPayloadHashHeader(t *testing.T) {
	auth := "AWS4-HMAC-SHA256 Credential=AKIA/20261122/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + strings.Repeat("a", 64)
	tests := []struct {
		hash      string
		streaming bool
		code      string
	}{
		{UnsignedPayload, false, ""},
		{StreamingPayload, true, ""},
		{"STREAMING-UNSIGNED-PAYLOAD-TRAILER", true, ""},
		{hashHex([]byte("x")), false, ""},
		{"not-a-hash", false, CodeInvalidArgument},
		{strings.ToUpper(hashHex(nil)), false, CodeInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.hash, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPut, "https://b.s3.amazonaws.com/k", nil)
			r.Header.Set("Authorization", auth)
			r.Header.Set("X-Amz-Date", "20261122T120000Z")
			r.Header.Set("X-Amz-Content-Sha256", tc.hash)
			s, err := Parse(r)
			if tc.code != "" {
				expectCode(t, err, tc.code)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.streaming, s.Streaming())
		})
	}
}

func TestSkewMessages(t *testing.T) {
	body := "Action=GetCallerIdentity&Version=2011-06-15"
	r := signed(t, body, nil)
	sig, err := Parse(r)
	require.NoError(t, err)
	err = Verify(r, sig, creds.SecretAccessKey, signTime.Add(20*time.Minute), Options{Body: []byte(body)})
	require.EqualError(t, err, "RequestExpired: Signature expired: 20261122T120000Z is now earlier than 20261122T120500Z (20261122T122000Z - 15 min.)")
	err = Verify(r, sig, creds.SecretAccessKey, signTime.Add(-20*time.Minute), Options{Body: []byte(body)})
	require.EqualError(t, err, "RequestExpired: Signature not yet current: 20261122T120000Z is still later than 20261122T115500Z (20261122T114000Z + 15 min.)")
	require.NoError(t, Verify(r, sig, creds.SecretAccessKey, signTime.Add(15*time.Minute), Options{Body: []byte(body)}))
}

// A KeyCache changes what Verify costs, never what it decides: a key
// cached for one secret does not verify a request signed with another
// secret of the same date, region and service, nor one of another scope.
func TestVerifyWithKeyCache(t *testing.T) {
	body := "Action=GetCallerIdentity&Version=2011-06-15"
	var keys KeyCache
	opt := Options{Body: []byte(body), Keys: &keys}
	other := creds
	other.SecretAccessKey = "another-secret-of-forty-characters-000000"
	otherRegion := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "https://sts.us-west-2.amazonaws.com/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), creds, r, hashHex([]byte(body)), "sts", "eu-west-1", signTime))
		return r
	}
	tests := []struct {
		name   string
		r      func() *http.Request
		secret string
		ok     bool
	}{
		{"right secret, cold cache", func() *http.Request { return signed(t, body, nil) }, creds.SecretAccessKey, true},
		{"right secret, warm cache", func() *http.Request { return signed(t, body, nil) }, creds.SecretAccessKey, true},
		{"same scope, wrong secret", func() *http.Request { return signed(t, body, nil) }, other.SecretAccessKey, false},
		{"right secret again", func() *http.Request { return signed(t, body, nil) }, creds.SecretAccessKey, true},
		{"signed for another region than the cached key", otherRegion, creds.SecretAccessKey, true},
		{"another region, wrong secret", otherRegion, other.SecretAccessKey, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r()
			sig, err := Parse(r)
			require.NoError(t, err)
			err = Verify(r, sig, tc.secret, signTime, opt)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			expectCode(t, err, CodeSignatureDoesNotMatch)
		})
	}
	require.Len(t, keys.m, 4, "one key per secret and scope")
}

func TestTrimmedMatchesFields(t *testing.T) {
	for _, v := range []string{"", "a", "a b", "a  b", " a", "a ", "a\tb", "application/x-www-form-urlencoded; charset=utf-8",
		"ä b", "a\u00a0b", "a\u0085b", "x\ny", "  ", " ", "20261122T120000Z"} {
		want := strings.Join(strings.Fields(v), " ")
		if trimmed(v) {
			require.Equal(t, want, v, "%q is called trimmed", v)
		}
	}
	require.True(t, trimmed("a b"))
	require.False(t, trimmed("a  b"))
	require.False(t, trimmed("ä"), "non-ASCII takes the slow path")
}

func TestCharsOf(t *testing.T) {
	for _, tc := range []struct {
		c    charsOf
		v    string
		want bool
	}{
		{hexSig, strings.Repeat("0a", 32), true},
		{hexSig, strings.Repeat("0A", 32), false},
		{hexSig, strings.Repeat("0a", 31), false},
		{hexSig, strings.Repeat("0a", 32) + "0", false},
		{hexSig, strings.Repeat("g", 64), false},
		{dateOnly, "20261122", true},
		{dateOnly, "2026112", false},
		{dateOnly, "2026-1122", false},
		{dateOnly, "2026112x", false},
	} {
		require.Equal(t, tc.want, tc.c.MatchString(tc.v), tc.v)
	}
}
