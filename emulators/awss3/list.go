package awss3

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// listPage is one page of a listing: keys and common prefixes in key
// order, at most maxKeys entries between them.
type listPage struct {
	objects   []Object
	prefixes  []string
	truncated bool
	last      string // last key or prefix returned (the next marker)
}

// listObjects pages through the bucket after marker, rolling keys that
// contain delimiter after prefix into common prefixes.
func listObjects(objs []Object, prefix, delimiter, marker string, maxKeys int) listPage {
	var p listPage
	count := 0
	lastPrefix := ""
	for _, o := range objs {
		if o.Key <= marker || !strings.HasPrefix(o.Key, prefix) {
			continue
		}
		cp := ""
		if delimiter != "" {
			if i := strings.Index(o.Key[len(prefix):], delimiter); i >= 0 {
				cp = o.Key[:len(prefix)+i+len(delimiter)]
			}
		}
		if cp != "" && (cp == lastPrefix || cp == marker) {
			continue // already returned on this or an earlier page
		}
		if count == maxKeys {
			p.truncated = true
			break
		}
		count++
		if cp != "" {
			lastPrefix = cp
			p.prefixes = append(p.prefixes, cp)
			p.last = cp
		} else {
			p.objects = append(p.objects, o)
			p.last = o.Key
		}
	}
	return p
}

// listParams reads and validates the parameters both ListObjects versions share.
func listParams(q url.Values) (prefix, delimiter string, maxKeys int, encode bool, err error) {
	prefix, delimiter, maxKeys = q.Get("prefix"), q.Get("delimiter"), 1000
	if v := q.Get("max-keys"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			return "", "", 0, false, errInvalidArgument("Provided max-keys not an integer or within integer range", "max-keys", v)
		}
		maxKeys = min(n, 1000)
	}
	switch et := q.Get("encoding-type"); et {
	case "":
	case "url":
		encode = true
	default:
		return "", "", 0, false, errInvalidArgument("Invalid Encoding Method specified in Request", "encoding-type", et)
	}
	return prefix, delimiter, maxKeys, encode, nil
}

// s3URLEncode encodes a key as S3 does for encoding-type=url.
func s3URLEncode(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

func (rc *reqCtx) listSetup(ctx context.Context) (Bucket, string, string, int, bool, []Object, error) {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return b, "", "", 0, false, nil, err
	}
	prefix, delimiter, maxKeys, encode, err := listParams(rc.query)
	if err != nil {
		return b, "", "", 0, false, nil, err
	}
	extra := map[string][]string{"s3:prefix": {prefix}, "s3:max-keys": {strconv.Itoa(maxKeys)}}
	if delimiter != "" {
		extra["s3:delimiter"] = []string{delimiter}
	}
	if err := rc.authorize(ctx, "s3:ListBucket", arn(b.Name, ""), &b, extra); err != nil {
		return b, "", "", 0, false, nil, err
	}
	objs, err := rc.h.store.Objects(ctx, b.Name, prefix)
	if err != nil {
		return b, "", "", 0, false, nil, fmt.Errorf("list %s: %w", b.Name, err)
	}
	return b, prefix, delimiter, maxKeys, encode, objs, nil
}

func (p listPage) fill(res *listBucketResult, encode, withOwner bool, ownerAcct string) {
	enc := func(s string) string {
		if encode {
			return s3URLEncode(s)
		}
		return s
	}
	for _, o := range p.objects {
		c := contentsElem{Key: enc(o.Key), LastModified: xmlTime(o.LastModified), ETag: o.ETag, Size: o.Size, StorageClass: "STANDARD"}
		if o.Checksum != nil {
			c.ChecksumAlgorithm, c.ChecksumType = strings.ToUpper(o.Checksum.Algorithm), "FULL_OBJECT"
		}
		if withOwner {
			c.Owner = ownerOf(ownerAcct)
		}
		res.Contents = append(res.Contents, c)
	}
	for _, cp := range p.prefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, prefixElem{Prefix: enc(cp)})
	}
	res.IsTruncated = p.truncated
	if encode {
		res.EncodingType = "url"
		res.Prefix = enc(res.Prefix)
		res.Delimiter = enc(res.Delimiter)
	}
}

func listObjectsV1(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, prefix, delimiter, maxKeys, encode, objs, err := rc.listSetup(ctx)
	if err != nil {
		return err
	}
	marker := rc.query.Get("marker")
	page := listObjects(objs, prefix, delimiter, marker, maxKeys)
	res := listBucketResult{Xmlns: Namespace, Name: b.Name, Prefix: prefix, Marker: &marker, MaxKeys: maxKeys, Delimiter: delimiter}
	if page.truncated && delimiter != "" {
		res.NextMarker = page.last
	}
	page.fill(&res, encode, true, b.Owner)
	if encode {
		m := s3URLEncode(marker)
		res.Marker = &m
		if res.NextMarker != "" {
			res.NextMarker = s3URLEncode(res.NextMarker)
		}
	}
	return rc.writeXML(w, http.StatusOK, res)
}

func listObjectsV2(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, prefix, delimiter, maxKeys, encode, objs, err := rc.listSetup(ctx)
	if err != nil {
		return err
	}
	token, startAfter := rc.query.Get("continuation-token"), rc.query.Get("start-after")
	marker := startAfter
	if rc.query.Has("continuation-token") {
		raw, derr := base64.RawURLEncoding.DecodeString(token)
		if derr != nil || token == "" {
			return errInvalidArgument("The continuation token provided is incorrect", "continuation-token", token)
		}
		marker = string(raw)
	}
	page := listObjects(objs, prefix, delimiter, marker, maxKeys)
	n := len(page.objects) + len(page.prefixes)
	res := listBucketResult{Xmlns: Namespace, Name: b.Name, Prefix: prefix, KeyCount: &n, MaxKeys: maxKeys, Delimiter: delimiter,
		ContinuationToken: token, StartAfter: startAfter}
	if page.truncated {
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(page.last))
	}
	page.fill(&res, encode, rc.query.Get("fetch-owner") == "true", b.Owner)
	if encode && res.StartAfter != "" {
		res.StartAfter = s3URLEncode(res.StartAfter)
	}
	return rc.writeXML(w, http.StatusOK, res)
}
