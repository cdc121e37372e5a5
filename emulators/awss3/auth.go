package awss3

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/idlab/idlab/emulators/awsauth"
	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/sigv4"
)

// anonymous is the principal of unsigned requests; only a bucket policy
// naming "*" can allow it anything.
var anonymous = awsiam.Principal{Type: awsiam.PrincipalAnonymous, ARN: "anonymous"}

// ActionAuthenticate names, in the decision log, a request refused while it
// was authenticated, before any S3 action was known. It is not an IAM
// action (as imds:GetMetadata is not).
const ActionAuthenticate = "s3:Authenticate"

// authenticate verifies SigV4 with the one step every AWS emulator uses.
// Signature Version 2 is refused as S3 refuses it for the lab's buckets; a
// request without any signature is anonymous.
func (rc *reqCtx) authenticate() error {
	if akid, ok := sigV2(rc.r); ok {
		return rc.refuseSigV2(akid)
	}
	res, err := awsauth.Authenticate(rc.r, rc.h.iam, "s3", rc.now, rc.h.sigv4Opts())
	if err != nil {
		var ae *awsauth.Error
		if errors.As(err, &ae) && ae.Kind == awsauth.Missing {
			rc.principal = anonymous
			return nil
		}
		return rc.authError(err)
	}
	rc.auth, rc.principal = res, res.Principal
	if sig := res.Signature; sig.Region != "" && parseHostRegion(rc.r.Host) == "" {
		// Loopback endpoints: the region the client signed for is the
		// region it believes the endpoint serves.
		rc.region = sig.Region
	}
	return nil
}

// sigV2 reports whether r is signed with Signature Version 2, and the
// access key ID it names: an "Authorization: AWS AKID:SIGNATURE" header, or,
// on a request without SigV4, the AWSAccessKeyId or Signature parameter of
// a presigned query (botocore 1.29 presigns with AWSAccessKeyId, Signature,
// Expires and, for session credentials, x-amz-security-token).
func sigV2(r *http.Request) (akid string, ok bool) {
	if rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS "); ok {
		akid, _, _ = strings.Cut(rest, ":")
		return akid, true
	}
	if sigv4.Present(r) {
		return "", false
	}
	q := r.URL.Query()
	if q.Has("AWSAccessKeyId") || q.Has("Signature") {
		return q.Get("AWSAccessKeyId"), true
	}
	return "", false
}

// refuseSigV2 records the refusal of a Signature Version 2 request in IAM's
// decision log, naming the caller its key belongs to, and returns S3's
// error for it.
func (rc *reqCtx) refuseSigV2(akid string) error {
	who := "unknown access key " + akid
	if akid == "" {
		who = "no access key"
	}
	if _, p, err := rc.h.iam.LookupAccessKey(akid); err == nil {
		who = p.ARN
	}
	rc.h.iam.RecordRejection(rc.r.Context(), who, ActionAuthenticate, arn(rc.bucket, rc.key), codeInvalidRequest,
		"Signature Version 2 ("+akid+"): buckets created after June 24, 2020 accept only AWS4-HMAC-SHA256", rc.id)
	return errSigV2()
}

// recordExpired records the refusal of a request signed with an expired
// session's credentials in IAM's decision log, naming the session and when
// it expired: a client that never refreshes them (cube-js/cube#11622) is
// seen there, not only in its own error.
func (rc *reqCtx) recordExpired(akid string) {
	creds, p, err := rc.h.iam.LookupAccessKey(akid)
	if err != nil {
		return
	}
	rc.h.iam.RecordRejection(rc.r.Context(), p.ARN, ActionAuthenticate, arn(rc.bucket, rc.key), "ExpiredToken",
		"the session's credentials ("+akid+") expired at "+creds.Expiration.UTC().Format(time.RFC3339), rc.id)
}

// recordInactive records the refusal of a request signed with a user's
// key that UpdateAccessKey made Inactive, naming the user: S3 answers it as
// a key that does not exist (403 InvalidAccessKeyId), so only the decision
// log tells a deactivated key from a mistyped one. Keys the store does not
// know are not recorded: anyone can send those.
func (rc *reqCtx) recordInactive(akid string) {
	p, ok := rc.h.iam.InactiveAccessKey(akid)
	if !ok {
		return
	}
	rc.h.iam.RecordRejection(rc.r.Context(), p.ARN, ActionAuthenticate, arn(rc.bucket, rc.key), "InvalidAccessKeyId",
		"access key "+akid+" of "+p.ARN+" is Inactive (UpdateAccessKey)", rc.id)
}

func parseHostRegion(host string) string {
	_, region, _ := parseHost(host)
	return region
}

// authError spells an authentication failure in S3's codes, with the extra
// elements S3 adds to help debugging.
func (rc *reqCtx) authError(err error) error {
	var e *awsauth.Error
	if !errors.As(err, &e) {
		return err
	}
	msg := e.Msg
	if e.SigV4 != nil {
		msg = e.SigV4.Msg
	}
	sig, _ := sigv4.Parse(rc.r)
	akid, token := "", ""
	if sig != nil {
		akid, token = sig.AccessKeyID, sig.SecurityToken
	}
	presigned := sig != nil && sig.Presigned || rc.r.Header.Get("Authorization") == ""
	switch e.Kind {
	case awsauth.UnknownKey:
		rc.recordInactive(akid)
		return newError(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.").
			with("AWSAccessKeyId", akid)
	case awsauth.BadToken:
		return newError(http.StatusBadRequest, "InvalidToken", "The provided token is malformed or otherwise invalid.").with("Token-0", token)
	case awsauth.Expired:
		rc.recordExpired(akid)
		return newError(http.StatusBadRequest, "ExpiredToken", "The provided token has expired.").with("Token-0", token)
	case awsauth.Skewed:
		out := newError(http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
		if sig != nil {
			out.with("RequestTime", sig.AmzDate)
		}
		return out.with("ServerTime", rc.now.UTC().Format(time.RFC3339)).with("MaxAllowedSkewMilliseconds", "900000")
	case awsauth.PresignExpired:
		out := newError(http.StatusForbidden, "AccessDenied", "Request has expired")
		if sig != nil {
			out.with("X-Amz-Expires", strconv.FormatInt(int64(sig.Expires/time.Second), 10)).
				with("Expires", sig.Time.Add(sig.Expires).UTC().Format(time.RFC3339))
		}
		return out.with("ServerTime", rc.now.UTC().Format(time.RFC3339))
	case awsauth.WrongService:
		service := ""
		if sig != nil {
			service = sig.Service
		}
		return newError(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			"The authorization header is malformed; incorrect service \"%s\". This endpoint belongs to \"s3\".", service)
	case awsauth.Malformed:
		if e.SigV4 != nil && e.SigV4.Code == sigv4.CodeInvalidArgument {
			return newError(http.StatusBadRequest, "InvalidArgument", "%s", msg).
				with("ArgumentName", "x-amz-content-sha256").with("ArgumentValue", rc.r.Header.Get("x-amz-content-sha256"))
		}
		if presigned {
			if strings.HasPrefix(msg, "X-Amz-Expires must be less than a week") {
				msg = "X-Amz-Expires must be less than a week (in seconds) that is; 604800"
			}
			return newError(http.StatusBadRequest, "AuthorizationQueryParametersError", "%s", msg)
		}
		return newError(http.StatusBadRequest, "AuthorizationHeaderMalformed", "%s", msg)
	case awsauth.BadSignature:
		out := newError(http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method.").
			with("AWSAccessKeyId", akid)
		if sig != nil {
			if creq, err := sigv4.CanonicalRequest(rc.r, sig, rc.h.sigv4Opts()); err == nil {
				sts := sigv4.StringToSign(sig, creq)
				out.with("StringToSign", sts).with("SignatureProvided", sig.Signature).
					with("StringToSignBytes", spacedHex(sts)).with("CanonicalRequest", creq).
					with("CanonicalRequestBytes", spacedHex(creq))
			}
		}
		return out
	}
	return newError(http.StatusForbidden, "AccessDenied", "Access Denied")
}

// spacedHex renders s as S3 does in *Bytes elements: "41 57 53 ...".
func spacedHex(s string) string {
	h := hex.EncodeToString([]byte(s))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// arn returns the S3 ARN of a bucket or of an object in it.
func arn(bucket, key string) string {
	if key == "" {
		return "arn:aws:s3:::" + bucket
	}
	return "arn:aws:s3:::" + bucket + "/" + key
}

// authorize asks IAM whether the caller may do action on resource of
// bucket b (nil for ListAllMyBuckets and CreateBucket, which have no
// bucket policy yet). extra adds S3 condition keys.
func (rc *reqCtx) authorize(ctx context.Context, action, resource string, b *Bucket, extra map[string][]string) error {
	if !rc.allowed(ctx, action, resource, b, extra) {
		return errAccessDenied()
	}
	return nil
}

// Condition key values every request shares; IAM copies what it keeps
// and never modifies them.
var (
	condTrue       = []string{"true"}
	condSigV4      = []string{"AWS4-HMAC-SHA256"}
	condRESTHeader = []string{"REST-HEADER"}
	condRESTQuery  = []string{"REST-QUERY-STRING"}
)

func (rc *reqCtx) allowed(ctx context.Context, action, resource string, b *Bucket, extra map[string][]string) bool {
	cond := make(map[string][]string, 6+len(extra))
	cond["aws:SecureTransport"] = condTrue
	if host, _, err := net.SplitHostPort(rc.r.RemoteAddr); err == nil {
		cond["aws:SourceIp"] = []string{host}
	}
	if rc.auth != nil {
		cond["s3:signatureversion"] = condSigV4
		cond["s3:authType"] = condRESTHeader
		if rc.auth.Signature.Presigned {
			cond["s3:authType"] = condRESTQuery
		}
		if ph := rc.auth.Signature.PayloadHash; ph != "" {
			cond["s3:x-amz-content-sha256"] = []string{ph}
		}
	}
	for k, v := range extra {
		cond[k] = v
	}
	req := awsiam.Request{Principal: rc.principal, Action: action, Resource: resource, Context: cond, RequestID: rc.id}
	if b != nil {
		req.ResourceAccount = b.Owner
		req.ResourcePolicyName = "bucket policy of " + b.Name
		if len(b.Policy) > 0 {
			p, err := rc.h.policies.parse(b.Policy)
			if err != nil {
				rc.h.log.Error("stored bucket policy does not parse", "bucket", b.Name, "err", err)
			} else {
				req.ResourcePolicy = p
			}
		}
	}
	d := rc.h.iam.Authorize(ctx, req)
	return d.Allowed()
}

// policyCache holds parsed bucket policies by their text, so that a
// request does not parse its bucket's policy again (a fifth of a GET's
// time). A parsed Policy is never modified. The cache is cleared when it
// holds maxCachedPolicies, more than a lab's buckets have.
type policyCache struct {
	mu sync.Mutex
	m  map[string]*awsiam.Policy
}

const maxCachedPolicies = 1024

func (c *policyCache) parse(doc []byte) (*awsiam.Policy, error) {
	c.mu.Lock()
	p, ok := c.m[string(doc)]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := awsiam.ParsePolicy(doc)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedPolicies {
		c.m = map[string]*awsiam.Policy{}
	}
	c.m[string(doc)] = p
	c.mu.Unlock()
	return p, nil
}
