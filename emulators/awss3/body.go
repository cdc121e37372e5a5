package awss3

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/idlab/idlab/internal/sigv4"
)

// Body size bounds. Objects are held in memory while verified, so single
// uploads and parts are capped below S3's 5 GiB.
const (
	maxObjectSize = 1 << 30
	maxXMLBody    = 2 << 20
)

// body is a request body that passed every integrity check.
type body struct {
	data     []byte
	md5      [16]byte
	checksum *Checksum
}

// readBody reads at most limit bytes of the body and verifies it against
// everything the client signed or declared: the SigV4 payload hash or the
// aws-chunked signatures and trailer, Content-MD5 and x-amz-checksum-*.
// Nothing is stored by the caller unless it returns nil.
func (rc *reqCtx) readBody(limit int64, requireLength bool) (*body, error) {
	r := rc.r
	payload := ""
	if rc.auth != nil {
		sig := rc.auth.Signature
		payload = sig.PayloadHash
		if payload == "" && !sig.Presigned {
			return nil, errInvalidRequest("Missing required header for this request: x-amz-content-sha256")
		}
	}
	var (
		data    []byte
		trailer http.Header
		err     error
	)
	if strings.HasPrefix(payload, "STREAMING-") {
		data, trailer, err = rc.readChunked(payload, limit)
		if err != nil {
			return nil, err
		}
	} else {
		if r.ContentLength < 0 && requireLength {
			return nil, newError(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
		}
		if r.ContentLength > limit {
			return nil, errTooLarge(r.ContentLength, limit)
		}
		if r.Body != nil {
			data, err = readAll(io.LimitReader(r.Body, limit+1), r.ContentLength)
			if err != nil {
				return nil, newError(http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header")
			}
		}
		if int64(len(data)) > limit {
			return nil, errTooLarge(int64(len(data)), limit)
		}
		if r.ContentLength >= 0 && int64(len(data)) != r.ContentLength {
			return nil, newError(http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header")
		}
		if len(payload) == 64 {
			sum := sha256.Sum256(data)
			if got := hex.EncodeToString(sum[:]); got != payload {
				return nil, newError(http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.").
					with("ClientComputedContentSHA256", payload).with("S3ComputedContentSHA256", got)
			}
		}
	}
	b := &body{data: data, md5: md5.Sum(data)}
	if v := r.Header.Get("Content-MD5"); v != "" {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(raw) != 16 {
			return nil, newError(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified is not valid.").with("Content-MD5", v)
		}
		if !bytes.Equal(raw, b.md5[:]) {
			return nil, newError(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.").
				with("ExpectedDigest", hex.EncodeToString(raw)).with("CalculatedDigest", base64.StdEncoding.EncodeToString(b.md5[:]))
		}
	}
	for _, alg := range checksumAlgorithms {
		name := "x-amz-checksum-" + alg
		v := r.Header.Get(name)
		if v == "" && trailer != nil {
			v = trailer.Get(name)
		}
		if v == "" {
			continue
		}
		if err := verifyChecksum(alg, v, data); err != nil {
			return nil, err
		}
		if b.checksum == nil {
			b.checksum = &Checksum{Algorithm: alg, Value: v}
		}
	}
	return b, nil
}

// readAll is io.ReadAll into a buffer of the expected size (when known and
// at most 64 MiB), which a body of that size fills without regrowing.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size < 0 || size > 64<<20 {
		return io.ReadAll(r)
	}
	b := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

func errTooLarge(size, limit int64) *Error {
	return newError(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size").
		with("ProposedSize", strconv.FormatInt(size, 10)).with("MaxSizeAllowed", strconv.FormatInt(limit, 10))
}

// readChunked decodes an aws-chunked body, checking each chunk signature
// (seeded by the verified request signature) and the trailer.
func (rc *reqCtx) readChunked(mode string, limit int64) ([]byte, http.Header, error) {
	r := rc.r
	decoded := int64(-1)
	if v := r.Header.Get("x-amz-decoded-content-length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, nil, errInvalidArgument("x-amz-decoded-content-length must be a non-negative integer", "x-amz-decoded-content-length", v)
		}
		decoded = n
	} else {
		return nil, nil, newError(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
	}
	if decoded > limit {
		return nil, nil, errTooLarge(decoded, limit)
	}
	var trailers []string
	for _, t := range strings.Split(r.Header.Get("x-amz-trailer"), ",") {
		if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
			trailers = append(trailers, t)
		}
	}
	cr, err := sigv4.NewChunkedReader(r.Body, sigv4.ChunkedOptions{Mode: mode, Seed: rc.auth.Signature,
		Secret: rc.auth.Credentials.SecretAccessKey, DecodedLength: decoded, Trailers: trailers})
	if err != nil {
		return nil, nil, chunkError(err)
	}
	data, err := readAll(io.LimitReader(cr, limit+1), decoded)
	if err != nil {
		return nil, nil, chunkError(err)
	}
	if int64(len(data)) != decoded {
		return nil, nil, newError(http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header")
	}
	return data, cr.Trailer(), nil
}

// chunkErrors is S3's answer to each failure the sigv4 package's
// aws-chunked reader reports, by the reader's code: S3 uses the same code,
// spelled here so that every code S3 can answer is written in this package.
var chunkErrors = map[string]Error{
	sigv4.CodeIncompleteBody:        {Status: http.StatusBadRequest, Code: "IncompleteBody"},
	sigv4.CodeInvalidChunkSizeError: {Status: http.StatusForbidden, Code: "InvalidChunkSizeError"},
	sigv4.CodeBadDigest:             {Status: http.StatusBadRequest, Code: "BadDigest"},
	sigv4.CodeMalformedTrailerError: {Status: http.StatusBadRequest, Code: "MalformedTrailerError"},
	sigv4.CodeInvalidRequest:        {Status: http.StatusBadRequest, Code: codeInvalidRequest},
	sigv4.CodeInvalidArgument:       {Status: http.StatusBadRequest, Code: "InvalidArgument"},
	sigv4.CodeNotImplemented:        {Status: http.StatusNotImplemented, Code: "NotImplemented"},
	sigv4.CodeSignatureDoesNotMatch: {Status: http.StatusForbidden, Code: "SignatureDoesNotMatch"},
}

// chunkError spells an aws-chunked decoding failure in S3's codes. A code
// the table does not know stays an internal error (500, logged) rather
// than reaching the wire unchecked.
func chunkError(err error) error {
	var se *sigv4.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("read aws-chunked body: %w", newError(http.StatusBadRequest, "IncompleteBody",
			"You did not provide the number of bytes specified by the Content-Length HTTP header"))
	}
	e, ok := chunkErrors[se.Code]
	if !ok {
		return fmt.Errorf("read aws-chunked body: sigv4 code %s has no S3 answer: %w", se.Code, err)
	}
	return newError(e.Status, e.Code, "%s", se.Msg)
}
