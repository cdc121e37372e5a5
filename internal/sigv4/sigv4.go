package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Algorithm is the only signing algorithm SigV4 defines.
const Algorithm = "AWS4-HMAC-SHA256"

// Payload hash markers a client may send in x-amz-content-sha256.
const (
	UnsignedPayload  = "UNSIGNED-PAYLOAD"
	StreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
)

// MaxSkew is how far a request's date may be from the server clock.
const MaxSkew = 15 * time.Minute

// MaxPresignExpiry is the longest X-Amz-Expires AWS accepts (7 days).
const MaxPresignExpiry = 7 * 24 * time.Hour

// TimeFormat is the X-Amz-Date layout.
const TimeFormat = "20060102T150405Z"

// Error codes (AWS's own names).
const (
	CodeMissingAuthenticationToken        = "MissingAuthenticationToken"
	CodeIncompleteSignature               = "IncompleteSignature"
	CodeSignatureDoesNotMatch             = "SignatureDoesNotMatch"
	CodeRequestExpired                    = "RequestExpired" // skew (STS/query APIs report SignatureDoesNotMatch "Signature expired"); S3 maps to RequestTimeTooSkewed
	CodeAuthorizationQueryParametersError = "AuthorizationQueryParametersError"
	CodePresignExpired                    = "PresignExpired"  // S3: AccessDenied "Request has expired"
	CodeInvalidArgument                   = "InvalidArgument" // bad x-amz-content-sha256 (S3's code)
)

// Codes this package never returns but that callers map its errors to, named
// here so every emulator spells them alike: S3 reports CodeRequestExpired as
// RequestTimeTooSkewed and a bad Credential scope as
// AuthorizationHeaderMalformed; an unknown access key (found after Parse, by
// the caller's key lookup) is InvalidClientTokenId for the query APIs and
// InvalidAccessKeyId for S3.
const (
	CodeRequestTimeTooSkewed         = "RequestTimeTooSkewed"
	CodeAuthorizationHeaderMalformed = "AuthorizationHeaderMalformed"
	CodeInvalidClientTokenID         = "InvalidClientTokenId"
	CodeInvalidAccessKeyID           = "InvalidAccessKeyId"
)

// Error is a verification failure.
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

func fail(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Signature is a parsed SigV4 signature and its credential scope.
type Signature struct {
	AccessKeyID   string
	Date          string // YYYYMMDD of the scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	AmzDate       string    // X-Amz-Date as sent
	Time          time.Time // AmzDate parsed
	Presigned     bool
	Expires       time.Duration // X-Amz-Expires; Verify honours it for S3 only
	SecurityToken string        // X-Amz-Security-Token (header or query)
	PayloadHash   string        // x-amz-content-sha256 header if sent
}

// Streaming reports whether the body is aws-chunked (x-amz-content-sha256
// STREAMING-*): the seed signature covers the headers, the chunks carry
// their own signatures, which Verify does not check.
func (s *Signature) Streaming() bool { return strings.HasPrefix(s.PayloadHash, "STREAMING-") }

// Scope is DATE/REGION/SERVICE/aws4_request.
func (s *Signature) Scope() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/aws4_request"
}

var (
	hexSig   = charsOf{n: 64, ok: func(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }}
	dateOnly = charsOf{n: 8, ok: func(c byte) bool { return '0' <= c && c <= '9' }}
)

// Present reports whether r carries any SigV4 material.
func Present(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.URL.Query().Get("X-Amz-Algorithm") != "" || r.URL.Query().Get("X-Amz-Signature") != ""
}

// Parse extracts the signature from the Authorization header or the
// presigned query parameters.
func Parse(r *http.Request) (*Signature, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		return parseHeader(r, auth)
	}
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") != "" || q.Get("X-Amz-Signature") != "" || q.Get("X-Amz-Credential") != "" {
		return parsePresigned(q)
	}
	return nil, fail(CodeMissingAuthenticationToken, "Request is missing Authentication Token")
}

// ParseAuthorization parses an Authorization header value.
func ParseAuthorization(auth string) (*Signature, error) {
	rest, ok := strings.CutPrefix(auth, Algorithm+" ")
	if !ok {
		alg, _, _ := strings.Cut(auth, " ")
		return nil, fail(CodeIncompleteSignature, "Unsupported AWS 'algorithm': '%s'", alg)
	}
	s := &Signature{}
	var cred, signed string
	var seen []string // at most the three known elements: an unknown one fails
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || slices.Contains(seen, k) {
			return nil, fail(CodeIncompleteSignature, "Authorization header requires each of 'Credential', 'SignedHeaders', 'Signature' exactly once. Authorization=%s", auth)
		}
		seen = append(seen, k)
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			s.Signature = v
		default:
			return nil, fail(CodeIncompleteSignature, "Authorization header has an unknown element %q", k)
		}
	}
	if cred == "" || signed == "" || s.Signature == "" {
		return nil, fail(CodeIncompleteSignature, "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. Authorization=%s", auth)
	}
	if err := s.setCredential(cred); err != nil {
		return nil, err
	}
	if err := s.setSignedHeaders(signed); err != nil {
		return nil, err
	}
	if !hexSig.MatchString(s.Signature) {
		return nil, fail(CodeIncompleteSignature, "Signature must be 64 lowercase hex characters")
	}
	return s, nil
}

func parseHeader(r *http.Request, auth string) (*Signature, error) {
	s, err := ParseAuthorization(auth)
	if err != nil {
		return nil, err
	}
	s.AmzDate = r.Header.Get("X-Amz-Date")
	if s.AmzDate == "" {
		// The spec allows the Date header instead; the string to sign then
		// carries that time in the ISO 8601 basic form.
		d := r.Header.Get("Date")
		if d == "" {
			return nil, fail(CodeIncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", auth)
		}
		t, perr := time.Parse(TimeFormat, d)
		if perr != nil {
			if t, perr = http.ParseTime(d); perr != nil {
				return nil, fail(CodeIncompleteSignature, "Date header %q is neither ISO 8601 basic nor an HTTP date", d)
			}
		}
		s.AmzDate = t.UTC().Format(TimeFormat)
	}
	if s.Time, err = time.Parse(TimeFormat, s.AmzDate); err != nil {
		return nil, fail(CodeIncompleteSignature, "X-Amz-Date %q must be in the form YYYYMMDDTHHMMSSZ", s.AmzDate)
	}
	s.SecurityToken = r.Header.Get("X-Amz-Security-Token")
	s.PayloadHash = r.Header.Get("X-Amz-Content-Sha256")
	if h := s.PayloadHash; h != "" && h != UnsignedPayload && !strings.HasPrefix(h, "STREAMING-") && !hexSig.MatchString(h) {
		return nil, fail(CodeInvalidArgument, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
	}
	return s, nil
}

func parsePresigned(q url.Values) (*Signature, error) {
	// X-Amz-Expires is required by S3 only; the query APIs (an STS
	// GetCallerIdentity URL presigned by aws-sdk-go-v2) may omit it, and the
	// request then lives within the 15-minute skew window.
	s3 := strings.Contains(q.Get("X-Amz-Credential"), "/s3/")
	missing := []string{}
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"} {
		if q.Get(k) == "" && (k != "X-Amz-Expires" || s3) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fail(CodeAuthorizationQueryParametersError, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters (missing %s).", strings.Join(missing, ", "))
	}
	if q.Get("X-Amz-Algorithm") != Algorithm {
		return nil, fail(CodeAuthorizationQueryParametersError, "X-Amz-Algorithm only supports \"%s\"", Algorithm)
	}
	s := &Signature{Presigned: true, Signature: q.Get("X-Amz-Signature"), AmzDate: q.Get("X-Amz-Date"), SecurityToken: q.Get("X-Amz-Security-Token")}
	if err := s.setCredential(q.Get("X-Amz-Credential")); err != nil {
		return nil, err
	}
	if err := s.setSignedHeaders(q.Get("X-Amz-SignedHeaders")); err != nil {
		return nil, err
	}
	var err error
	if s.Time, err = time.Parse(TimeFormat, s.AmzDate); err != nil {
		return nil, fail(CodeAuthorizationQueryParametersError, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	if q.Has("X-Amz-Expires") || s3 {
		n, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
		if err != nil || n < 0 {
			return nil, fail(CodeAuthorizationQueryParametersError, "X-Amz-Expires should be a number")
		}
		if n < 1 || time.Duration(n)*time.Second > MaxPresignExpiry {
			return nil, fail(CodeAuthorizationQueryParametersError, "X-Amz-Expires must be less than a week (in seconds) that is 604800")
		}
		s.Expires = time.Duration(n) * time.Second
	}
	if !hexSig.MatchString(s.Signature) {
		return nil, fail(CodeAuthorizationQueryParametersError, "X-Amz-Signature must be 64 lowercase hex characters")
	}
	return s, nil
}

func (s *Signature) setCredential(cred string) error {
	f := strings.Split(cred, "/")
	if len(f) != 5 || f[4] != "aws4_request" || f[0] == "" || f[2] == "" || f[3] == "" || !dateOnly.MatchString(f[1]) {
		return fail(CodeIncompleteSignature, "Credential should be scoped to a valid region, service and date: %s", cred)
	}
	s.AccessKeyID, s.Date, s.Region, s.Service = f[0], f[1], f[2], f[3]
	return nil
}

func (s *Signature) setSignedHeaders(v string) error {
	hs := strings.Split(v, ";")
	for _, h := range hs {
		if h == "" || h != strings.ToLower(h) {
			return fail(CodeIncompleteSignature, "SignedHeaders must be a ;-separated list of lowercase header names: %s", v)
		}
	}
	if !sort.StringsAreSorted(hs) {
		return fail(CodeIncompleteSignature, "SignedHeaders must be sorted: %s", v)
	}
	if !containsStr(hs, "host") {
		return fail(CodeSignatureDoesNotMatch, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	s.SignedHeaders = hs
	return nil
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Options control Verify.
type Options struct {
	// S3 uses S3's rules: the path is signed as sent (no second
	// URI-encoding) and the payload hash comes from x-amz-content-sha256.
	S3 bool
	// Body is the request body the client signed (form-encoded query APIs);
	// ignored when the payload hash is taken from x-amz-content-sha256, which
	// may also be UNSIGNED-PAYLOAD or STREAMING-* (whose chunk signatures the
	// caller checks while decoding the body).
	Body []byte
	// Keys, when set, caches the signing keys derived from secrets.
	Keys *KeyCache
}

// KeyCache keeps derived signing keys (the HMAC chain over a secret, a
// date, a region and a service), which a client signs with all day: a
// verifier holding one derives each key once rather than for every
// request. The zero value is ready; it is safe for concurrent use and
// forgets everything when it holds maxCachedKeys.
type KeyCache struct {
	mu sync.Mutex
	m  map[keyScope][]byte
}

// keyScope is what a signing key derives from.
type keyScope struct{ secret, date, region, service string }

// maxCachedKeys bounds a KeyCache: more than a lab's live credentials
// sign with in a day.
const maxCachedKeys = 1 << 16

// signingKey is the key for s's scope under secret, from c when it has it.
func (c *KeyCache) signingKey(secret string, s *Signature) []byte {
	if c == nil {
		return deriveKey(secret, s.Date, s.Region, s.Service)
	}
	scope := keyScope{secret, s.Date, s.Region, s.Service}
	c.mu.Lock()
	k, ok := c.m[scope]
	c.mu.Unlock()
	if ok {
		return k
	}
	k = deriveKey(secret, s.Date, s.Region, s.Service)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedKeys {
		c.m = map[keyScope][]byte{}
	}
	c.m[scope] = k
	c.mu.Unlock()
	return k
}

// deriveKey is SigV4's signing key.
func deriveKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// charsOf matches strings of n bytes each of which ok accepts, as the
// regexp ^[...]{n}$ would, without a regexp's cost on every request.
type charsOf struct {
	n  int
	ok func(byte) bool
}

// MatchString reports whether v is n accepted bytes.
func (c charsOf) MatchString(v string) bool {
	if len(v) != c.n {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !c.ok(v[i]) {
			return false
		}
	}
	return true
}

// Verify checks s against r with the secret key at time now.
func Verify(r *http.Request, s *Signature, secret string, now time.Time, opt Options) error {
	if s.Time.Format("20060102") != s.Date {
		return fail(CodeSignatureDoesNotMatch, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", s.Date, s.Time.Format("20060102"), s.AmzDate)
	}
	// S3 honours X-Amz-Expires; the query APIs ignore it and give presigned
	// URLs the same 15-minute window as signed headers (aws-sdk-go#2167).
	if s.Presigned && s.Expires > 0 && opt.S3 {
		if now.After(s.Time.Add(s.Expires)) {
			return fail(CodePresignExpired, "Request has expired")
		}
		if s.Time.After(now.Add(MaxSkew)) {
			return fail(CodeRequestExpired, "Request is not yet valid")
		}
	} else if d := now.Sub(s.Time); d > MaxSkew {
		return fail(CodeRequestExpired, "Signature expired: %s is now earlier than %s (%s - 15 min.)", s.AmzDate,
			now.Add(-MaxSkew).UTC().Format(TimeFormat), now.UTC().Format(TimeFormat))
	} else if d < -MaxSkew {
		return fail(CodeRequestExpired, "Signature not yet current: %s is still later than %s (%s + 15 min.)", s.AmzDate,
			now.Add(MaxSkew).UTC().Format(TimeFormat), now.UTC().Format(TimeFormat))
	}
	bp := canonicalBufs.Get().(*[]byte)
	creq, err := appendCanonical((*bp)[:0], r, s, opt)
	sum := sha256.Sum256(creq)
	if cap(creq) <= maxPooledCanonical {
		*bp = creq
		canonicalBufs.Put(bp)
	}
	if err != nil {
		return err
	}
	var sts [256]byte
	mac := hmac.New(sha256.New, opt.Keys.signingKey(secret, s))
	mac.Write(appendStringToSign(sts[:0], s, sum))
	var got [sha256.Size]byte
	var want [2 * sha256.Size]byte
	hex.Encode(want[:], mac.Sum(got[:0]))
	if !hmac.Equal(want[:], []byte(s.Signature)) {
		return fail(CodeSignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

// StringToSign builds the string that is HMAC-signed.
func StringToSign(s *Signature, canonicalRequest string) string {
	return string(appendStringToSign(nil, s, sha256.Sum256([]byte(canonicalRequest))))
}

// appendStringToSign appends the string to sign of a canonical request
// whose SHA-256 is sum.
func appendStringToSign(dst []byte, s *Signature, sum [sha256.Size]byte) []byte {
	dst = append(dst, Algorithm+"\n"...)
	dst = append(dst, s.AmzDate...)
	dst = append(dst, '\n')
	dst = append(dst, s.Date...)
	dst = append(dst, '/')
	dst = append(dst, s.Region...)
	dst = append(dst, '/')
	dst = append(dst, s.Service...)
	dst = append(dst, "/aws4_request\n"...)
	return hex.AppendEncode(dst, sum[:])
}

// canonicalBufs are Verify's canonical-request buffers; one larger than
// maxPooledCanonical (a request with a huge query) is not kept.
var canonicalBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledCanonical = 16 << 10

func signature(secret string, s *Signature, creq string) string {
	return hex.EncodeToString(hmacSHA256(deriveKey(secret, s.Date, s.Region, s.Service), StringToSign(s, creq)))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// trimmed reports whether v is already what SigV4 makes of a header value
// (strings.Fields joined by single spaces): ASCII, no leading, trailing or
// double space, no other white space. Most values are, and skip the
// rewrite.
func trimmed(v string) bool {
	if v == "" || v[0] == ' ' || v[len(v)-1] == ' ' {
		return v == ""
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= 0x80, c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			return false
		case c == ' ' && v[i+1] == ' ':
			return false
		}
	}
	return true
}

// CanonicalRequest builds the canonical request for r as the signer saw it.
func CanonicalRequest(r *http.Request, s *Signature, opt Options) (string, error) {
	b, err := appendCanonical(nil, r, s, opt)
	return string(b), err
}

// appendCanonical appends the canonical request to dst: Verify builds it
// in a reused buffer and hashes it without making a string of it.
func appendCanonical(dst []byte, r *http.Request, s *Signature, opt Options) ([]byte, error) {
	path := r.URL.EscapedPath()
	if r.URL.RawPath == "" && r.URL.Opaque == "" {
		path = escapePath(r.URL.Path)
	}
	if path == "" {
		path = "/"
	}
	if !opt.S3 {
		path = escapePath(path)
	}
	dst = append(dst, r.Method...)
	dst = append(dst, '\n')
	dst = append(dst, path...)
	dst = append(dst, '\n')
	if q := r.URL.RawQuery; !s.Presigned && plainQueryPair(q) {
		// One pair that needs no escaping (x-id=GetObject, as the SDKs
		// add): its canonical form is itself.
		dst = append(dst, q...)
		if !strings.Contains(q, "=") {
			dst = append(dst, '=')
		}
	} else {
		dst = append(dst, canonicalQuery(q, s.Presigned)...)
	}
	dst = append(dst, '\n')
	for _, h := range s.SignedHeaders {
		var vals []string
		if h == "host" {
			vals = []string{r.Host}
		} else {
			vals = headerValues(r.Header, h)
			if h == "content-length" && len(vals) == 0 && r.ContentLength >= 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		}
		if len(vals) == 0 {
			return dst, fail(CodeSignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided: signed header %q is missing", h)
		}
		dst = append(dst, h...)
		dst = append(dst, ':')
		for i, v := range vals {
			if i > 0 {
				dst = append(dst, ',')
			}
			if trimmed(v) {
				dst = append(dst, v...)
			} else {
				dst = append(dst, strings.Join(strings.Fields(v), " ")...)
			}
		}
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	for i, h := range s.SignedHeaders {
		if i > 0 {
			dst = append(dst, ';')
		}
		dst = append(dst, h...)
	}
	dst = append(dst, '\n')
	payload := s.PayloadHash
	switch {
	case s.Presigned && payload == "" && opt.S3:
		// S3 presigned URLs sign no payload; the other services' presigners
		// (STS GetCallerIdentity for EKS tokens) hash the (empty) body.
		payload = UnsignedPayload
	case payload == "":
		sum := sha256.Sum256(opt.Body)
		return hex.AppendEncode(dst, sum[:]), nil
	}
	return append(dst, payload...), nil
}

// headerValues is r.Header.Values(h) for a lowercase signed header name,
// without canonicalizing the name when the canonical form is already
// known (the headers SDKs sign on every request).
func headerValues(hd http.Header, h string) []string {
	if c, ok := canonicalSigned[h]; ok {
		return hd[c]
	}
	return hd.Values(h)
}

// canonicalSigned are the MIME-canonical names of the headers SDKs sign.
var canonicalSigned = map[string]string{}

func init() {
	for _, h := range []string{"content-length", "content-md5", "content-type", "x-amz-content-sha256", "x-amz-date",
		"x-amz-security-token", "x-amz-decoded-content-length", "x-amz-trailer", "x-amz-sdk-checksum-algorithm",
		"content-encoding", "amz-sdk-invocation-id", "amz-sdk-request", "x-amz-user-agent", "x-amz-checksum-crc32",
		"x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256",
		"x-amz-acl", "x-amz-copy-source", "x-amz-target", "x-amz-api-version", "range", "accept", "accept-encoding",
		"user-agent", "date", "expect", "if-match", "if-none-match"} {
		canonicalSigned[h] = http.CanonicalHeaderKey(h)
	}
}

// canonicalQuery sorts and re-encodes the query, dropping X-Amz-Signature
// from presigned URLs.
func canonicalQuery(raw string, presigned bool) string {
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			dk, dv = k, v
		}
		if presigned && dk == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, kv{uriEncode(dk, true), uriEncode(dv, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.k + "=" + p.v
	}
	return strings.Join(out, "&")
}

// plainQueryPair reports whether raw is a single non-empty query pair of
// unreserved characters around at most one '=', which canonicalQuery
// would return unchanged (with "=" added when there is none).
func plainQueryPair(raw string) bool {
	if raw == "" || raw[0] == '=' {
		return false
	}
	eq := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~':
		case c == '=':
			eq++
		default:
			return false
		}
	}
	return eq <= 1
}

// escapePath URI-encodes a path, leaving '/'.
func escapePath(p string) string { return uriEncode(p, false) }

// uriEncode encodes everything but RFC 3986 unreserved characters (and '/'
// unless encodeSlash).
func uriEncode(s string, encodeSlash bool) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}
