package awss3

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Multipart limits of S3.
const (
	minPartSize = 5 << 20
	maxParts    = 10000
)

func newUploadID() string {
	var b [48]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// lookupUpload finds an upload of the addressed key; NoSuchUpload also
// when the ID belongs to another key.
func (rc *reqCtx) lookupUpload(ctx context.Context, b *Bucket) (Upload, error) {
	id := rc.query.Get("uploadId")
	u, err := rc.h.store.Upload(ctx, b.Name, id)
	if errors.Is(err, ErrNoSuchUpload) || err == nil && u.Key != rc.key {
		return Upload{}, errNoSuchUpload(id)
	}
	if err != nil {
		return Upload{}, fmt.Errorf("upload %q: %w", id, err)
	}
	return u, nil
}

func createMultipartUpload(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
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
	ct, headers, meta := objectAttrs(rc.r)
	alg := strings.ToLower(rc.r.Header.Get("x-amz-checksum-algorithm"))
	if alg != "" && newChecksum(alg) == nil {
		return errInvalidRequest("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	}
	u := Upload{ID: newUploadID(), Bucket: b.Name, Key: rc.key, Initiated: rc.now.UTC().Truncate(time.Millisecond),
		Initiator: rc.principal.ARN, InitiatorID: rc.principal.UserID, Owner: rc.principal.Account,
		ContentType: ct, Headers: headers, Metadata: meta, ChecksumAlgorithm: alg}
	if err := rc.h.store.CreateUpload(ctx, u); err != nil {
		return fmt.Errorf("create upload %s/%s: %w", b.Name, rc.key, err)
	}
	if alg != "" {
		w.Header().Set("x-amz-checksum-algorithm", strings.ToUpper(alg))
		w.Header().Set("x-amz-checksum-type", "COMPOSITE")
	}
	return rc.writeXML(w, http.StatusOK, initiateMultipartUploadResult{Xmlns: Namespace, Bucket: b.Name, Key: rc.key, UploadID: u.ID})
}

func uploadPart(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	pn := rc.query.Get("partNumber")
	n, perr := strconv.Atoi(pn)
	if perr != nil || n < 1 || n > maxParts {
		return errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", pn)
	}
	if err := rc.authorize(ctx, "s3:PutObject", arn(b.Name, rc.key), &b, nil); err != nil {
		return err
	}
	u, err := rc.lookupUpload(ctx, &b)
	if err != nil {
		return err
	}
	body, err := rc.readBody(maxObjectSize, true)
	if err != nil {
		return err
	}
	p := Part{Number: n, Size: int64(len(body.data)), ETag: quotedMD5(body.md5), LastModified: rc.now.UTC().Truncate(time.Millisecond)}
	switch err := rc.h.store.PutPart(ctx, b.Name, u.ID, p, body.data); {
	case errors.Is(err, ErrNoSuchUpload):
		return errNoSuchUpload(u.ID)
	case err != nil:
		return fmt.Errorf("upload part %d of %s: %w", n, u.ID, err)
	}
	w.Header().Set("ETag", p.ETag)
	if c := body.checksum; c != nil {
		w.Header().Set("x-amz-checksum-"+c.Algorithm, c.Value)
	}
	rc.writeEmpty(w, http.StatusOK)
	return nil
}

func completeMultipartUpload(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:PutObject", arn(b.Name, rc.key), &b, nil); err != nil {
		return err
	}
	u, err := rc.lookupUpload(ctx, &b)
	if err != nil {
		return err
	}
	body, err := rc.readBody(maxXMLBody, false)
	if err != nil {
		return err
	}
	req, err := parseCompleteMultipartUpload(body.data)
	if err != nil {
		return err
	}
	parts := make([]Part, 0, len(req.Parts))
	for i, rp := range req.Parts {
		if i > 0 && rp.PartNumber <= req.Parts[i-1].PartNumber {
			return newError(http.StatusBadRequest, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.").
				with("UploadId", u.ID)
		}
		p, ok := u.Parts[rp.PartNumber]
		if !ok || strings.Trim(rp.ETag, `"`) != strings.Trim(p.ETag, `"`) {
			return newError(http.StatusBadRequest, "InvalidPart", "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.").
				with("UploadId", u.ID).with("PartNumber", strconv.Itoa(rp.PartNumber)).with("ETag", rp.ETag)
		}
		parts = append(parts, p)
	}
	for i, p := range parts {
		if i < len(parts)-1 && p.Size < minPartSize {
			return newError(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.").
				with("ProposedSize", strconv.FormatInt(p.Size, 10)).with("MinSizeAllowed", strconv.Itoa(minPartSize)).
				with("PartNumber", strconv.Itoa(p.Number)).with("ETag", strings.Trim(p.ETag, `"`))
		}
	}
	var (
		data []byte
		sums []byte
	)
	for _, p := range parts {
		d, err := rc.h.store.PartData(ctx, b.Name, u.ID, p)
		if err != nil {
			return fmt.Errorf("read part %d of %s: %w", p.Number, u.ID, err)
		}
		data = append(data, d...)
		raw, _ := hex.DecodeString(strings.Trim(p.ETag, `"`))
		sums = append(sums, raw...)
	}
	all := md5.Sum(sums)
	o := Object{Key: u.Key, Size: int64(len(data)), ETag: fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(all[:]), len(parts)),
		LastModified: rc.now.UTC().Truncate(time.Millisecond), ContentType: u.ContentType, Headers: u.Headers, Metadata: u.Metadata, Parts: len(parts)}
	if err := rc.h.store.PutObject(ctx, b.Name, o, data); err != nil {
		return fmt.Errorf("complete upload %s: %w", u.ID, err)
	}
	if err := rc.h.store.DeleteUpload(ctx, b.Name, u.ID); err != nil && !errors.Is(err, ErrNoSuchUpload) {
		return fmt.Errorf("complete upload %s: %w", u.ID, err)
	}
	rc.h.log.Info("s3 complete multipart upload", "request_id", rc.id, "bucket", b.Name, "key", u.Key, "parts", len(parts), "size", o.Size)
	loc := "https://" + rc.r.Host + "/" + b.Name + "/" + u.Key
	if rc.virtual {
		loc = "https://" + rc.r.Host + "/" + u.Key
	}
	return rc.writeXML(w, http.StatusOK, completeMultipartUploadResult{Xmlns: Namespace, Location: loc, Bucket: b.Name, Key: u.Key, ETag: o.ETag})
}

func abortMultipartUpload(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:AbortMultipartUpload", arn(b.Name, rc.key), &b, nil); err != nil {
		return err
	}
	u, err := rc.lookupUpload(ctx, &b)
	if err != nil {
		return err
	}
	if err := rc.h.store.DeleteUpload(ctx, b.Name, u.ID); errors.Is(err, ErrNoSuchUpload) {
		return errNoSuchUpload(u.ID)
	} else if err != nil {
		return fmt.Errorf("abort upload %s: %w", u.ID, err)
	}
	rc.writeEmpty(w, http.StatusNoContent)
	return nil
}

func listParts(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:ListMultipartUploadParts", arn(b.Name, rc.key), &b, nil); err != nil {
		return err
	}
	u, err := rc.lookupUpload(ctx, &b)
	if err != nil {
		return err
	}
	maxP, marker := 1000, 0
	if v := rc.query.Get("max-parts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("Provided max-parts not an integer or within integer range", "max-parts", v)
		}
		maxP = min(n, 1000)
	}
	if v := rc.query.Get("part-number-marker"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("Provided part-number-marker not an integer or within integer range", "part-number-marker", v)
		}
		marker = n
	}
	res := listPartsResult{Xmlns: Namespace, Bucket: b.Name, Key: u.Key, UploadID: u.ID, PartNumberMarker: marker, MaxParts: maxP,
		Initiator: &owner{ID: u.Initiator, DisplayName: u.InitiatorID}, Owner: ownerOf(u.Owner), StorageClass: "STANDARD",
		ChecksumAlgorithm: strings.ToUpper(u.ChecksumAlgorithm)}
	for n := marker + 1; n <= maxParts; n++ {
		p, ok := u.Parts[n]
		if !ok {
			continue
		}
		if len(res.Parts) == maxP {
			res.IsTruncated = true
			break
		}
		res.Parts = append(res.Parts, partElem{PartNumber: p.Number, LastModified: xmlTime(p.LastModified), ETag: p.ETag, Size: p.Size})
		res.NextPartNumberMarker = p.Number
	}
	return rc.writeXML(w, http.StatusOK, res)
}

func listMultipartUploads(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:ListBucketMultipartUploads", arn(b.Name, ""), &b, nil); err != nil {
		return err
	}
	ups, err := rc.h.store.Uploads(ctx, b.Name)
	if err != nil {
		return fmt.Errorf("list uploads of %s: %w", b.Name, err)
	}
	maxU := 1000
	if v := rc.query.Get("max-uploads"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("Provided max-uploads not an integer or within integer range", "max-uploads", v)
		}
		maxU = min(n, 1000)
	}
	q := rc.query
	res := listMultipartUploadsResult{Xmlns: Namespace, Bucket: b.Name, KeyMarker: q.Get("key-marker"), UploadIDMarker: q.Get("upload-id-marker"),
		Prefix: q.Get("prefix"), MaxUploads: maxU}
	for _, u := range ups {
		if !strings.HasPrefix(u.Key, res.Prefix) {
			continue
		}
		if res.KeyMarker != "" && (u.Key < res.KeyMarker || u.Key == res.KeyMarker && (res.UploadIDMarker == "" || u.ID <= res.UploadIDMarker)) {
			continue
		}
		if len(res.Uploads) == maxU {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, uploadElem{Key: u.Key, UploadID: u.ID, Initiator: &owner{ID: u.Initiator, DisplayName: u.InitiatorID},
			Owner: ownerOf(u.Owner), StorageClass: "STANDARD", Initiated: xmlTime(u.Initiated)})
		res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.ID
	}
	return rc.writeXML(w, http.StatusOK, res)
}
