package sigv4

// aws-chunked request bodies (S3 "streaming" uploads).
//
// Wire format, as S3 documents it (sigv4-streaming, sigv4-streaming-trailers)
// and as the SDKs send it:
//
//	signed:    hex(size);chunk-signature=<64 hex>\r\n<data>\r\n ... 0;chunk-signature=<sig>\r\n
//	unsigned:  hex(size)\r\n<data>\r\n ... 0\r\n
//
// then, without a trailer, \r\n; with one, lines name:value\r\n (signed
// modes end them with x-amz-trailer-signature:<hex>\r\n) and a final \r\n.
//
// Error codes follow S3 (observed against AWS and recorded by S3-compatible
// servers that test against it): any framing fault (bad size line, missing
// CRLF, early EOF, missing final chunk, bytes after the end, decoded length
// mismatch) is IncompleteBody; a data chunk under 8 KiB followed by another
// data chunk is InvalidChunkSizeError, and so, by this package's choice, is a
// chunk above MaxChunkSize; bad chunk or trailer signatures are
// SignatureDoesNotMatch; trailers not matching x-amz-trailer (or malformed)
// are MalformedTrailerError; a checksum value that is not base64 of the right
// length is InvalidRequest and a wrong one BadDigest.

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// More x-amz-content-sha256 markers for aws-chunked bodies.
const (
	StreamingPayloadTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	// StreamingECDSA (SigV4a) is recognised; NewChunkedReader refuses it.
	StreamingECDSA        = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
	StreamingECDSATrailer = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"
)

// S3 error codes for aws-chunked bodies.
const (
	CodeIncompleteBody         = "IncompleteBody"
	CodeInvalidChunkSizeError  = "InvalidChunkSizeError"
	CodeBadDigest              = "BadDigest"
	CodeMalformedTrailerError  = "MalformedTrailerError"
	CodeInvalidRequest         = "InvalidRequest"
	CodeNotImplemented         = "NotImplemented"
	msgIncompleteBody          = "The request body terminated unexpectedly"
	msgMalformedTrailer        = "The request contained trailing data that was not well-formed or did not conform to our published schema."
	msgChunkSignatureMismatch  = "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	minChunkSize               = 8 << 10
	defaultMaxSignedChunk      = 16 << 20
	defaultMaxUnsignedChunk    = 5 << 30 // S3's single PUT limit; unsigned chunks stream
	maxChunkLine               = 4 << 10
	maxTrailerLines            = 16
	chunkPayloadAlgorithm      = "AWS4-HMAC-SHA256-PAYLOAD"
	chunkTrailerAlgorithm      = "AWS4-HMAC-SHA256-TRAILER"
	trailerSignatureHeaderName = "x-amz-trailer-signature"
	emptySHA256                = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// crc64NVME is the reflected CRC-64/NVME polynomial (0xAD93D23594C93659
// bit-reversed), as hash/crc64.MakeTable wants it. Check value for
// "123456789": 0xAE8B14860A799888.
const crc64NVME = 0x9a6c9329ac4bc9b5

var crc64NVMETable = crc64.MakeTable(crc64NVME)

// checksumAlgorithms maps a checksum trailer name to S3's algorithm name and
// a hash constructor.
var checksumAlgorithms = map[string]struct {
	name string
	new  func() hash.Hash
}{
	"x-amz-checksum-crc32":     {"CRC32", func() hash.Hash { return crc32.NewIEEE() }},
	"x-amz-checksum-crc32c":    {"CRC32C", func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	"x-amz-checksum-crc64nvme": {"CRC64NVME", func() hash.Hash { return crc64.New(crc64NVMETable) }},
	"x-amz-checksum-sha1":      {"SHA1", sha1.New},
	"x-amz-checksum-sha256":    {"SHA256", sha256.New},
}

// ChunkedOptions configure NewChunkedReader.
type ChunkedOptions struct {
	// Mode is the x-amz-content-sha256 value, one of the STREAMING-* markers.
	Mode string
	// Seed is the request's verified seed signature (Signature, AmzDate and
	// scope are used). Required for the signed modes.
	Seed *Signature
	// Secret is the caller's secret access key. Required for the signed modes.
	Secret string
	// DecodedLength is x-amz-decoded-content-length, or -1 (any negative)
	// when absent; a decoded total that differs is IncompleteBody.
	DecodedLength int64
	// Trailers are the names announced in x-amz-trailer, lower-cased, e.g.
	// ["x-amz-checksum-crc32"]. Only checksum trailers are supported, at most
	// one, as S3 allows.
	Trailers []string
	// MaxChunkSize bounds one chunk's size. Defaults to 16 MiB for the signed
	// modes (a chunk is buffered whole until its signature is checked) and to
	// 5 GiB for the unsigned one (its chunks stream; the SDK sends a known
	// length body as one chunk).
	MaxChunkSize int64
}

// ChunkedReader decodes an aws-chunked body. Signed chunks are verified
// before any of their bytes are returned; trailer checksums and the trailer
// signature are verified before Read returns io.EOF, so a caller must not
// commit the data before it sees io.EOF. Failures are *Error values (errors
// of the underlying reader other than io.EOF are returned as they are) and
// are sticky.
type ChunkedReader struct {
	br     *bufio.Reader
	opt    ChunkedOptions
	signed bool
	tmode  bool // a trailer section follows the final chunk
	key    []byte
	scope  string
	prev   string // previous signature (hex)

	data    []byte // signed: verified bytes not yet returned
	scratch []byte // signed: chunk buffer reused between chunks
	remain  int64  // unsigned: data bytes of the current chunk still to read
	total   int64  // decoded bytes so far
	chunks  int    // data chunks seen
	last    int64  // size of the previous data chunk
	sums    map[string]hash.Hash
	trailer http.Header
	done    bool // EOF reached and everything verified
	err     error
}

// NewChunkedReader returns the decoded payload of an aws-chunked body.
func NewChunkedReader(body io.Reader, opt ChunkedOptions) (*ChunkedReader, error) {
	c := &ChunkedReader{opt: opt, sums: map[string]hash.Hash{}}
	switch opt.Mode {
	case StreamingPayload:
		c.signed = true
	case StreamingPayloadTrailer:
		c.signed, c.tmode = true, true
	case StreamingUnsignedTrailer:
		c.tmode = true
	case StreamingECDSA, StreamingECDSATrailer:
		return nil, fail(CodeNotImplemented, "x-amz-content-sha256 %s (SigV4a) is not supported by this emulator", opt.Mode)
	default:
		return nil, fail(CodeInvalidArgument, "x-amz-content-sha256 %q is not an aws-chunked payload mode", opt.Mode)
	}
	if c.signed {
		if opt.Seed == nil || opt.Secret == "" {
			return nil, errors.New("sigv4: signed aws-chunked body needs the seed signature and the secret key")
		}
		if !hexSig.MatchString(opt.Seed.Signature) {
			return nil, fail(CodeSignatureDoesNotMatch, "%s", msgChunkSignatureMismatch)
		}
		k := hmacSHA256([]byte("AWS4"+opt.Secret), opt.Seed.Date)
		k = hmacSHA256(k, opt.Seed.Region)
		k = hmacSHA256(k, opt.Seed.Service)
		c.key = hmacSHA256(k, "aws4_request")
		c.scope = opt.Seed.Scope()
		c.prev = opt.Seed.Signature
	}
	if len(opt.Trailers) > 0 && !c.tmode {
		return nil, fail(CodeInvalidRequest, "x-amz-trailer is only valid with a *-TRAILER x-amz-content-sha256")
	}
	if len(opt.Trailers) > 1 {
		return nil, fail(CodeInvalidRequest, "Expecting a single x-amz-checksum- header")
	}
	for _, name := range opt.Trailers {
		alg, ok := checksumAlgorithms[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return nil, fail(CodeInvalidRequest, "The value specified in the x-amz-trailer header is not supported")
		}
		c.sums[strings.ToLower(strings.TrimSpace(name))] = alg.new()
	}
	if c.opt.MaxChunkSize <= 0 {
		c.opt.MaxChunkSize = defaultMaxUnsignedChunk
		if c.signed {
			c.opt.MaxChunkSize = defaultMaxSignedChunk
		}
	}
	// Reads past a line cap surface as bufio.ErrBufferFull.
	c.br = bufio.NewReaderSize(body, maxChunkLine)
	return c, nil
}

// Trailer returns the trailing headers (without x-amz-trailer-signature)
// once Read has returned io.EOF, nil before.
func (c *ChunkedReader) Trailer() http.Header {
	if !c.done {
		return nil
	}
	return c.trailer.Clone()
}

// Read returns decoded payload bytes.
func (c *ChunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		switch {
		case len(c.data) > 0:
			n := copy(p, c.data)
			c.data = c.data[n:]
			return n, nil
		case c.remain > 0:
			return c.readUnsigned(p)
		case c.done:
			return 0, io.EOF
		}
		if err := c.next(); err != nil {
			c.err = err
			return 0, err
		}
	}
}

func incomplete(format string, args ...any) *Error {
	return fail(CodeIncompleteBody, msgIncompleteBody+": "+format, args...)
}

// readUnsigned streams the current unsigned chunk's data.
func (c *ChunkedReader) readUnsigned(p []byte) (int, error) {
	if int64(len(p)) > c.remain {
		p = p[:c.remain]
	}
	n, err := c.br.Read(p)
	c.remain -= int64(n)
	c.hash(p[:n])
	if err != nil && !(errors.Is(err, io.EOF) && c.remain == 0) {
		if errors.Is(err, io.EOF) {
			err = incomplete("chunk data ends %d bytes early", c.remain)
		}
		c.err = err
		return n, nil // the error follows on the next call
	}
	if c.remain == 0 {
		if err := c.crlf("after chunk data"); err != nil {
			c.err = err
		}
	}
	return n, nil
}

func (c *ChunkedReader) hash(b []byte) {
	for _, h := range c.sums {
		h.Write(b)
	}
}

// readErr maps an underlying read error: EOF is a truncated body.
func readErr(err error, where string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return incomplete("body ends %s", where)
	}
	return err
}

// crlf consumes exactly "\r\n".
func (c *ChunkedReader) crlf(where string) error {
	var b [2]byte
	if _, err := io.ReadFull(c.br, b[:]); err != nil {
		return readErr(err, where)
	}
	if b != [2]byte{'\r', '\n'} {
		return incomplete("missing CRLF %s", where)
	}
	return nil
}

// errBadLine is a line over maxChunkLine bytes or not ending in CRLF.
var errBadLine = errors.New("line too long or not terminated by CRLF")

// line reads one CRLF-terminated line of at most maxChunkLine bytes and
// returns it without the CRLF; a truncated body is IncompleteBody, a
// malformed line errBadLine.
func (c *ChunkedReader) line(where string) (string, error) {
	b, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errBadLine
	}
	if err != nil {
		return "", readErr(err, "in "+where)
	}
	if len(b) < 2 || b[len(b)-2] != '\r' {
		return "", errBadLine
	}
	return string(b[:len(b)-2]), nil
}

// next reads the next chunk header (and, signed, the chunk) or the end.
func (c *ChunkedReader) next() error {
	hdr, err := c.line("chunk header")
	if errors.Is(err, errBadLine) {
		return incomplete("chunk header longer than %d bytes or not terminated by CRLF", maxChunkLine)
	}
	if err != nil {
		return err
	}
	sizeText, sig := hdr, ""
	if c.signed {
		var ok bool
		sizeText, sig, ok = strings.Cut(hdr, ";chunk-signature=")
		if !ok || !hexSig.MatchString(sig) {
			return incomplete("chunk header %q has no chunk-signature", clip(hdr))
		}
	}
	size, err := parseChunkSize(sizeText)
	if err != nil {
		return err
	}
	if size > 0 {
		if c.chunks > 0 && c.last < minChunkSize {
			return fail(CodeInvalidChunkSizeError, "Only the last chunk is allowed to have a size less than 8192 bytes (chunk %d has %d bytes)", c.chunks, c.last)
		}
		if size > c.opt.MaxChunkSize {
			return fail(CodeInvalidChunkSizeError, "Chunk size %d exceeds the maximum of %d bytes", size, c.opt.MaxChunkSize)
		}
		if c.opt.DecodedLength >= 0 && size > c.opt.DecodedLength-c.total {
			return incomplete("chunks exceed x-amz-decoded-content-length %d", c.opt.DecodedLength)
		}
		c.chunks++
		c.last = size
		c.total += size
	}
	if c.signed {
		buf := bytes.NewBuffer(c.scratch[:0])
		n, err := io.CopyN(buf, c.br, size)
		c.scratch = buf.Bytes()
		if err != nil {
			return readErr(err, fmt.Sprintf("%d bytes into a %d-byte chunk", n, size))
		}
		if err := c.verifyChunk(sig, c.scratch); err != nil {
			return err
		}
		if size > 0 {
			if err := c.crlf("after chunk data"); err != nil {
				return err
			}
			c.hash(c.scratch)
			c.data = c.scratch
			return nil
		}
	} else if size > 0 {
		c.remain = size
		return nil
	}
	return c.finish()
}

func parseChunkSize(s string) (int64, error) {
	if s == "" || len(s) > 16 {
		return 0, incomplete("invalid chunk size %q", clip(s))
	}
	n, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, incomplete("invalid chunk size %q", clip(s))
	}
	if n > 1<<62 {
		return 0, fail(CodeInvalidChunkSizeError, "Chunk size %d is too large", n)
	}
	return int64(n), nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func (c *ChunkedReader) verifyChunk(sig string, data []byte) error {
	sum := sha256.Sum256(data)
	sts := chunkPayloadAlgorithm + "\n" + c.opt.Seed.AmzDate + "\n" + c.scope + "\n" + c.prev + "\n" + emptySHA256 + "\n" + hex.EncodeToString(sum[:])
	want := hex.EncodeToString(hmacSHA256(c.key, sts))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return fail(CodeSignatureDoesNotMatch, "%s", msgChunkSignatureMismatch)
	}
	c.prev = sig
	return nil
}

// finish handles everything after the final (zero-size) chunk header.
func (c *ChunkedReader) finish() error {
	if c.opt.DecodedLength >= 0 && c.total != c.opt.DecodedLength {
		return incomplete("decoded %d bytes, x-amz-decoded-content-length is %d", c.total, c.opt.DecodedLength)
	}
	c.trailer = http.Header{}
	if !c.tmode {
		if err := c.crlf("after the final chunk"); err != nil {
			return err
		}
	} else if err := c.trailers(); err != nil {
		return err
	}
	// Nothing may follow.
	if _, err := c.br.ReadByte(); err == nil {
		return incomplete("data after the end of the aws-chunked body")
	} else if !errors.Is(err, io.EOF) {
		return err
	}
	c.done = true
	return nil
}

func (c *ChunkedReader) trailers() error {
	values := map[string]string{}
	var sig string
	for i := 0; ; i++ {
		l, err := c.line("trailer")
		if errors.Is(err, errBadLine) {
			return fail(CodeMalformedTrailerError, "%s", msgMalformedTrailer)
		}
		if err != nil {
			return err
		}
		if l == "" {
			break
		}
		if i >= maxTrailerLines || sig != "" {
			// More lines than allowed, or a line after the signature.
			return fail(CodeMalformedTrailerError, "%s", msgMalformedTrailer)
		}
		name, value, ok := strings.Cut(l, ":")
		name = strings.ToLower(name)
		value = strings.Trim(value, " \t")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return fail(CodeMalformedTrailerError, "%s", msgMalformedTrailer)
		}
		if name == trailerSignatureHeaderName {
			if !c.signed || !hexSig.MatchString(value) {
				return fail(CodeMalformedTrailerError, "%s", msgMalformedTrailer)
			}
			sig = value
			continue
		}
		if _, dup := values[name]; dup {
			return fail(CodeMalformedTrailerError, "%s", msgMalformedTrailer)
		}
		if _, announced := c.sums[name]; !announced {
			return fail(CodeMalformedTrailerError, "%s", msgMalformedTrailer)
		}
		values[name] = value
	}
	if c.signed {
		if sig == "" {
			return fail(CodeSignatureDoesNotMatch, "%s", msgChunkSignatureMismatch)
		}
		names := make([]string, 0, len(values))
		for n := range values {
			names = append(names, n)
		}
		sort.Strings(names)
		var canon strings.Builder
		for _, n := range names {
			canon.WriteString(n + ":" + values[n] + "\n")
		}
		sum := sha256.Sum256([]byte(canon.String()))
		sts := chunkTrailerAlgorithm + "\n" + c.opt.Seed.AmzDate + "\n" + c.scope + "\n" + c.prev + "\n" + hex.EncodeToString(sum[:])
		want := hex.EncodeToString(hmacSHA256(c.key, sts))
		if !hmac.Equal([]byte(want), []byte(sig)) {
			return fail(CodeSignatureDoesNotMatch, "%s", msgChunkSignatureMismatch)
		}
	}
	for name, h := range c.sums {
		value, ok := values[name]
		if !ok {
			return fail(CodeMalformedTrailerError, "%s", msgMalformedTrailer)
		}
		got, err := base64.StdEncoding.Strict().DecodeString(value)
		if err != nil || len(got) != h.Size() {
			return fail(CodeInvalidRequest, "Value for %s trailing header is invalid.", name)
		}
		if !bytes.Equal(got, h.Sum(nil)) {
			return fail(CodeBadDigest, "The %s you specified did not match the calculated checksum.", checksumAlgorithms[name].name)
		}
	}
	for name, value := range values {
		c.trailer.Set(name, value)
	}
	return nil
}
