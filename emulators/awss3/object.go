package awss3

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxKeyLength is S3's limit on key length in bytes.
const maxKeyLength = 1024

// storedHeaders are the standard headers S3 keeps with an object and
// returns on GET and HEAD.
var storedHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

// Response header names and values every object answer has, canonical and
// shared rather than built for each request (net/http only reads them).
var (
	hdrSSE      = http.CanonicalHeaderKey("x-amz-server-side-encryption")
	sse         = []string{"AES256"}
	acceptBytes = []string{"bytes"}
)

// responseOverrides are GetObject's response-* query parameters and the
// header each sets.
var responseOverrides = []struct{ param, header string }{
	{"response-content-type", "Content-Type"}, {"response-content-language", "Content-Language"},
	{"response-expires", "Expires"}, {"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"}, {"response-content-encoding", "Content-Encoding"},
}

// quotedMD5 is the ETag of a single-part object.
func quotedMD5(sum [16]byte) string { return `"` + hex.EncodeToString(sum[:]) + `"` }

// objectAttrs reads Content-Type, stored headers and x-amz-meta-* from a
// request, as PutObject, CreateMultipartUpload and CopyObject (REPLACE) do.
func objectAttrs(r *http.Request) (contentType string, headers, meta map[string]string) {
	contentType = r.Header.Get("Content-Type")
	if contentType == "" {
		contentType = "binary/octet-stream"
	}
	headers = map[string]string{}
	for _, h := range storedHeaders {
		v := r.Header.Get(h)
		if h == "Content-Encoding" {
			// aws-chunked is the transfer framing, not the object's encoding.
			var keep []string
			for _, e := range strings.Split(v, ",") {
				if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "aws-chunked") {
					keep = append(keep, e)
				}
			}
			v = strings.Join(keep, ",")
		}
		if v != "" {
			headers[h] = v
		}
	}
	meta = map[string]string{}
	const metaPrefix = "x-amz-meta-"
	for k, vs := range r.Header {
		if len(k) > len(metaPrefix) && strings.EqualFold(k[:len(metaPrefix)], metaPrefix) {
			meta[strings.ToLower(k[len(metaPrefix):])] = strings.Join(vs, ",")
		}
	}
	return contentType, headers, meta
}

// objectContext holds the S3 condition keys of an object write.
func objectContext(r *http.Request) map[string][]string {
	var extra map[string][]string
	for _, h := range objectConditionHeaders {
		if v := r.Header.Get(h.header); v != "" {
			if extra == nil {
				extra = map[string][]string{}
			}
			extra[h.key] = []string{v}
		}
	}
	return extra
}

// objectConditionHeaders are the headers of an object write that are S3
// condition keys, by their canonical name (read without canonicalizing
// again on every request) and their condition key.
var objectConditionHeaders = func() []struct{ header, key string } {
	var out []struct{ header, key string }
	for _, h := range []string{"x-amz-acl", "x-amz-storage-class", "x-amz-server-side-encryption", "x-amz-metadata-directive", "x-amz-copy-source"} {
		out = append(out, struct{ header, key string }{http.CanonicalHeaderKey(h), "s3:" + h})
	}
	return out
}()

func checkKey(key string) error {
	if len(key) > maxKeyLength {
		return newError(http.StatusBadRequest, "KeyTooLongError", "Your key is too long").
			with("MaxSizeAllowed", strconv.Itoa(maxKeyLength)).with("Size", strconv.Itoa(len(key)))
	}
	return nil
}

func putObject(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := checkKey(rc.key); err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:PutObject", arn(b.Name, rc.key), &b, objectContext(rc.r)); err != nil {
		return err
	}
	body, err := rc.readBody(maxObjectSize, true)
	if err != nil {
		return err
	}
	ct, headers, meta := objectAttrs(rc.r)
	o := Object{Key: rc.key, Size: int64(len(body.data)), ETag: quotedMD5(body.md5), LastModified: rc.now.UTC().Truncate(time.Millisecond),
		ContentType: ct, Headers: headers, Metadata: meta, Checksum: body.checksum}
	if err := rc.h.store.PutObject(ctx, b.Name, o, body.data); err != nil {
		return fmt.Errorf("put object %s/%s: %w", b.Name, rc.key, err)
	}
	if rc.h.log.Enabled(ctx, slog.LevelDebug) {
		rc.h.log.Debug("s3 put object", "request_id", rc.id, "bucket", b.Name, "key", rc.key, "size", o.Size, "principal", rc.principal.ARN)
	}
	hd := w.Header()
	hd["Etag"] = []string{o.ETag}
	if o.Checksum != nil {
		w.Header().Set("x-amz-checksum-"+o.Checksum.Algorithm, o.Checksum.Value)
		w.Header().Set("x-amz-checksum-type", "FULL_OBJECT")
	}
	hd[hdrSSE] = sse
	rc.writeEmpty(w, http.StatusOK)
	return nil
}

// missingKey answers a lookup of an absent key: NoSuchKey only to a caller
// allowed s3:ListBucket on the bucket, AccessDenied otherwise, so callers
// cannot probe which keys exist.
func (rc *reqCtx) missingKey(ctx context.Context, b *Bucket, key string) error {
	if rc.allowed(ctx, "s3:ListBucket", arn(b.Name, ""), b, nil) {
		return errNoSuchKey(key)
	}
	return errAccessDenied()
}

// getObject serves GetObject and HeadObject.
func getObject(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:GetObject", arn(b.Name, rc.key), &b, nil); err != nil {
		return err
	}
	o, err := rc.h.store.Object(ctx, b.Name, rc.key)
	if errors.Is(err, ErrNoSuchKey) {
		return rc.missingKey(ctx, &b, rc.key)
	}
	if err != nil {
		return fmt.Errorf("get object %s/%s: %w", b.Name, rc.key, err)
	}
	if status, cond := preconditions(rc.r, o); status == http.StatusNotModified {
		w.Header().Set("ETag", o.ETag)
		w.Header().Set("Last-Modified", o.LastModified.UTC().Format(http.TimeFormat))
		rc.writeEmpty(w, http.StatusNotModified)
		return nil
	} else if status == http.StatusPreconditionFailed {
		return newError(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold").with("Condition", cond)
	}
	start, end, partial := int64(0), o.Size-1, false
	if rh := rc.r.Header.Get("Range"); rh != "" {
		s, e, ok, unsat := parseRange(rh, o.Size)
		if unsat {
			return newError(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable").
				with("RangeRequested", rh).with("ActualObjectSize", strconv.FormatInt(o.Size, 10))
		}
		if ok {
			start, end, partial = s, e, true
		}
	}
	var data []byte
	if rc.r.Method != http.MethodHead {
		data, err = rc.h.store.ObjectData(ctx, b.Name, o)
		if errors.Is(err, ErrNoSuchKey) {
			return rc.missingKey(ctx, &b, rc.key)
		}
		if err != nil {
			return fmt.Errorf("read object %s/%s: %w", b.Name, rc.key, err)
		}
	}
	hd := w.Header()
	rc.setCommonHeaders(w)
	hd["Last-Modified"] = []string{o.LastModified.UTC().Format(http.TimeFormat)}
	hd["Etag"] = []string{o.ETag}
	hd["Accept-Ranges"] = acceptBytes
	hd["Content-Type"] = []string{o.ContentType}
	hd[hdrSSE] = sse
	for k, v := range o.Headers {
		hd.Set(k, v)
	}
	for k, v := range o.Metadata {
		hd["X-Amz-Meta-"+k] = []string{v}
	}
	if o.Parts > 0 {
		hd.Set("x-amz-mp-parts-count", strconv.Itoa(o.Parts))
	}
	if o.Checksum != nil && !partial && strings.EqualFold(rc.r.Header.Get("x-amz-checksum-mode"), "ENABLED") {
		hd.Set("x-amz-checksum-"+o.Checksum.Algorithm, o.Checksum.Value)
		hd.Set("x-amz-checksum-type", "FULL_OBJECT")
	}
	for _, o := range responseOverrides {
		if len(rc.query) == 0 {
			break
		}
		if v := rc.query.Get(o.param); v != "" {
			hd.Set(o.header, v)
		}
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, o.Size))
	}
	hd["Content-Length"] = []string{strconv.FormatInt(end-start+1, 10)}
	w.WriteHeader(status)
	if rc.r.Method == http.MethodHead || o.Size == 0 {
		return nil
	}
	_, _ = w.Write(data[start : end+1])
	return nil
}

// parseRange reads a single "bytes=" range. ok is false when the header
// is ignored (malformed or several ranges: S3 then returns the whole
// object); unsat reports a range S3 answers InvalidRange to.
func parseRange(h string, size int64) (start, end int64, ok, unsat bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, false
	}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, false, true
		}
		if n > size {
			n = size
		}
		return size - n, size - 1, true, false
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return 0, 0, false, false
	}
	b := size - 1
	if last != "" {
		if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
			return 0, 0, false, false
		}
	}
	if a >= size {
		return 0, 0, false, true
	}
	if b >= size {
		b = size - 1
	}
	return a, b, true, false
}

// preconditions evaluates If-Match, If-Unmodified-Since, If-None-Match and
// If-Modified-Since with S3's precedence; it returns 0 when the request
// proceeds, else 304 or 412 and the failing header.
func preconditions(r *http.Request, o Object) (int, string) {
	mod := o.LastModified.Truncate(time.Second)
	etagMatch := func(list string) bool {
		for _, e := range strings.Split(list, ",") {
			e = strings.TrimSpace(e)
			if e == "*" || strings.Trim(e, `"`) == strings.Trim(o.ETag, `"`) {
				return true
			}
		}
		return false
	}
	im, ius := r.Header.Get("If-Match"), r.Header.Get("If-Unmodified-Since")
	inm, ims := r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
	if im != "" {
		if !etagMatch(im) {
			return http.StatusPreconditionFailed, "If-Match"
		}
	} else if ius != "" {
		if t, err := http.ParseTime(ius); err == nil && mod.After(t) {
			return http.StatusPreconditionFailed, "If-Unmodified-Since"
		}
	}
	if inm != "" {
		if etagMatch(inm) {
			return http.StatusNotModified, "If-None-Match"
		}
	} else if ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !mod.After(t) {
			return http.StatusNotModified, "If-Modified-Since"
		}
	}
	return 0, ""
}

func deleteObject(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:DeleteObject", arn(b.Name, rc.key), &b, nil); err != nil {
		return err
	}
	if err := rc.h.store.DeleteObject(ctx, b.Name, rc.key); err != nil {
		return fmt.Errorf("delete object %s/%s: %w", b.Name, rc.key, err)
	}
	rc.writeEmpty(w, http.StatusNoContent)
	return nil
}

// parseCopySource splits x-amz-copy-source ("/bucket/key" or "bucket/key",
// URL-encoded, optionally with ?versionId=).
func parseCopySource(v string) (bucket, key string, err error) {
	v, _, _ = strings.Cut(v, "?versionId=")
	dec, uerr := url.PathUnescape(strings.TrimPrefix(v, "/"))
	bucket, key, _ = strings.Cut(dec, "/")
	if uerr != nil || bucket == "" || key == "" {
		return "", "", errInvalidArgument("Invalid copy source object key", "x-amz-copy-source", v)
	}
	return bucket, key, nil
}

func copyObject(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := checkKey(rc.key); err != nil {
		return err
	}
	srcBucket, srcKey, err := parseCopySource(rc.r.Header.Get("x-amz-copy-source"))
	if err != nil {
		return err
	}
	sb, err := rc.lookupBucket(ctx, srcBucket)
	if err != nil {
		return err
	}
	directive := strings.ToUpper(rc.r.Header.Get("x-amz-metadata-directive"))
	if directive == "" {
		directive = "COPY"
	}
	if directive != "COPY" && directive != "REPLACE" {
		return errInvalidArgument("Unknown metadata directive.", "x-amz-metadata-directive", directive)
	}
	if err := rc.authorize(ctx, "s3:GetObject", arn(sb.Name, srcKey), &sb, nil); err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:PutObject", arn(b.Name, rc.key), &b, objectContext(rc.r)); err != nil {
		return err
	}
	src, err := rc.h.store.Object(ctx, sb.Name, srcKey)
	if errors.Is(err, ErrNoSuchKey) {
		return rc.missingKey(ctx, &sb, srcKey)
	}
	if err != nil {
		return fmt.Errorf("copy source %s/%s: %w", sb.Name, srcKey, err)
	}
	if sb.Name == b.Name && srcKey == rc.key && directive == "COPY" {
		return errInvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	data, err := rc.h.store.ObjectData(ctx, sb.Name, src)
	if errors.Is(err, ErrNoSuchKey) {
		return rc.missingKey(ctx, &sb, srcKey)
	}
	if err != nil {
		return fmt.Errorf("copy source %s/%s: %w", sb.Name, srcKey, err)
	}
	o := Object{Key: rc.key, Size: src.Size, ETag: quotedMD5(md5.Sum(data)), LastModified: rc.now.UTC().Truncate(time.Millisecond),
		ContentType: src.ContentType, Headers: src.Headers, Metadata: src.Metadata, Checksum: src.Checksum}
	if directive == "REPLACE" {
		o.ContentType, o.Headers, o.Metadata = objectAttrs(rc.r)
	}
	if alg := strings.ToLower(rc.r.Header.Get("x-amz-checksum-algorithm")); alg != "" {
		if newChecksum(alg) == nil {
			return errInvalidRequest("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
		}
		o.Checksum = &Checksum{Algorithm: alg, Value: computeChecksum(alg, data)}
	}
	if err := rc.h.store.PutObject(ctx, b.Name, o, data); err != nil {
		return fmt.Errorf("copy object to %s/%s: %w", b.Name, rc.key, err)
	}
	res := copyObjectResult{Xmlns: Namespace, LastModified: xmlTime(o.LastModified), ETag: o.ETag}
	if c := o.Checksum; c != nil {
		switch c.Algorithm {
		case "crc32":
			res.ChecksumCRC32 = c.Value
		case "crc32c":
			res.ChecksumCRC32C = c.Value
		case "sha1":
			res.ChecksumSHA1 = c.Value
		case "sha256":
			res.ChecksumSHA256 = c.Value
		case "crc64nvme":
			res.ChecksumCRC64 = c.Value
		}
	}
	return rc.writeXML(w, http.StatusOK, res)
}

func deleteObjects(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	body, err := rc.readBody(maxXMLBody, false)
	if err != nil {
		return err
	}
	if rc.r.Header.Get("Content-MD5") == "" && body.checksum == nil {
		return errInvalidRequest("Missing required header for this request: Content-MD5")
	}
	req, err := parseDeleteRequest(body.data)
	if err != nil {
		return err
	}
	res := deleteResult{Xmlns: Namespace}
	for _, obj := range req.Objects {
		if !rc.allowed(ctx, "s3:DeleteObject", arn(b.Name, obj.Key), &b, nil) {
			res.Errors = append(res.Errors, deleteErrorElem{Key: obj.Key, Code: "AccessDenied", Message: "Access Denied"})
			continue
		}
		if err := rc.h.store.DeleteObject(ctx, b.Name, obj.Key); err != nil {
			rc.h.log.Error("s3 delete objects", "request_id", rc.id, "bucket", b.Name, "key", obj.Key, "err", err)
			res.Errors = append(res.Errors, deleteErrorElem{Key: obj.Key, Code: "InternalError", Message: "We encountered an internal error. Please try again."})
			continue
		}
		if !req.Quiet {
			res.Deleted = append(res.Deleted, deletedElem{Key: obj.Key})
		}
	}
	return rc.writeXML(w, http.StatusOK, res)
}
