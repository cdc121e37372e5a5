package sigv4

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
)

const chunkRegion = "us-east-1"

// chunkSeed signs a PutObject request with the SDK's v4 signer, the payload
// hash being the streaming mode, and returns the seed signature after
// checking it with Verify as the S3 emulator will.
func chunkSeed(t testing.TB, mode string, decodedLen int, trailer string) *Signature {
	t.Helper()
	r := httptest.NewRequest(http.MethodPut, "https://s3.us-east-1.amazonaws.com/bucket/key", nil)
	r.Header.Set("X-Amz-Content-Sha256", mode)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(decodedLen))
	if trailer != "" {
		r.Header.Set("X-Amz-Trailer", trailer)
	}
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), creds, r, mode, "s3", chunkRegion, signTime))
	sig, err := Parse(r)
	require.NoError(t, err)
	require.NoError(t, Verify(r, sig, creds.SecretAccessKey, signTime, Options{S3: true}))
	return sig
}

// signedBody frames data as signed aws-chunked, each chunk signed by the
// SDK's StreamSigner (whose string to sign with empty headers is the S3
// chunk string to sign). With trailer set it stops after the final chunk
// header for appendSignedTrailer.
func signedBody(t testing.TB, seed *Signature, data []byte, chunk int, trailer bool) []byte {
	t.Helper()
	seedRaw, err := hex.DecodeString(seed.Signature)
	require.NoError(t, err)
	ss := v4.NewStreamSigner(creds, "s3", chunkRegion, seedRaw)
	var b bytes.Buffer
	sign := func(p []byte) string {
		s, err := ss.GetSignature(context.Background(), nil, p, signTime)
		require.NoError(t, err)
		return hex.EncodeToString(s)
	}
	prev := ""
	for len(data) > 0 {
		n := min(chunk, len(data))
		prev = sign(data[:n])
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", n, prev)
		b.Write(data[:n])
		b.WriteString("\r\n")
		data = data[n:]
	}
	prev = sign(nil)
	fmt.Fprintf(&b, "0;chunk-signature=%s\r\n", prev)
	if !trailer {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// appendSignedTrailer adds "name:value" and its trailer signature.
func appendSignedTrailer(body []byte, seed *Signature, secret, name, value string) []byte {
	last := string(body[bytes.LastIndex(body, []byte("chunk-signature="))+16:])
	last = last[:64]
	line := name + ":" + value
	return append(body, line+"\r\nx-amz-trailer-signature:"+trailerSignature(seed, secret, last, line+"\n")+"\r\n\r\n"...)
}

func trailerSignature(seed *Signature, secret, prev, canon string) string {
	k := hmacSHA256([]byte("AWS4"+secret), seed.Date)
	k = hmacSHA256(k, seed.Region)
	k = hmacSHA256(k, seed.Service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, "AWS4-HMAC-SHA256-TRAILER\n"+seed.AmzDate+"\n"+seed.Scope()+"\n"+prev+"\n"+hashHex([]byte(canon))))
}

func b64sum(v uint32) string {
	return base64.StdEncoding.EncodeToString([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// decodeAll reads r through a one-byte-at-a-time input to exercise the
// state machine at every boundary when slow is set.
func decodeAll(t testing.TB, body []byte, opt ChunkedOptions, slow bool) ([]byte, http.Header, error) {
	t.Helper()
	var in io.Reader = bytes.NewReader(body)
	if slow {
		in = iotest.OneByteReader(in)
	}
	c, err := NewChunkedReader(in, opt)
	if err != nil {
		return nil, nil, err
	}
	require.Nil(t, c.Trailer(), "trailer before EOF")
	out, err := io.ReadAll(c)
	if err != nil {
		return out, nil, err
	}
	// EOF is sticky.
	n, err2 := c.Read(make([]byte, 8))
	require.Equal(t, 0, n)
	require.ErrorIs(t, err2, io.EOF)
	return out, c.Trailer(), nil
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// The AWS documentation example (sigv4-streaming): 65 KiB of 'a' in a 64 KiB
// and a 1 KiB chunk, signatures as published.
func TestChunkedAWSDocumentationExample(t *testing.T) {
	seed := &Signature{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Date: "20130524", Region: "us-east-1", Service: "s3",
		AmzDate: "20130524T000000Z", Signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"}
	data := bytes.Repeat([]byte("a"), 65*1024)
	body := "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n" + string(data[:65536]) + "\r\n" +
		"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" + string(data[65536:]) + "\r\n" +
		"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
	out, _, err := decodeAll(t, []byte(body), ChunkedOptions{Mode: StreamingPayload, Seed: seed, Secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", DecodedLength: 66560}, false)
	require.NoError(t, err)
	require.Equal(t, data, out)
}

// The AWS documentation example with a trailer (sigv4-streaming-trailers):
// the same 65 KiB of 'a', a CRC32C trailer, signatures as published.
func TestChunkedAWSDocumentationTrailerExample(t *testing.T) {
	seed := &Signature{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Date: "20130524", Region: "us-east-1", Service: "s3",
		AmzDate: "20130524T000000Z", Signature: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"}
	data := bytes.Repeat([]byte("a"), 65*1024)
	body := "10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n" + string(data[:65536]) + "\r\n" +
		"400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n" + string(data[65536:]) + "\r\n" +
		"0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n" +
		"x-amz-checksum-crc32c:sOO8/Q==\r\n" +
		"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n"
	out, tr, err := decodeAll(t, []byte(body), ChunkedOptions{Mode: StreamingPayloadTrailer, Seed: seed, Secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		DecodedLength: 66560, Trailers: []string{"x-amz-checksum-crc32c"}}, false)
	require.NoError(t, err)
	require.Equal(t, data, out)
	require.Equal(t, "sOO8/Q==", tr.Get("x-amz-checksum-crc32c"))
}

func TestCRC64NVMEVector(t *testing.T) {
	// CRC-64/NVME check value (the catalogue's "123456789" vector).
	require.Equal(t, uint64(0xAE8B14860A799888), crc64.Checksum([]byte("123456789"), crc64.MakeTable(crc64NVME)))
	h := checksumAlgorithms["x-amz-checksum-crc64nvme"].new()
	h.Write([]byte("123456789"))
	require.Equal(t, "rosUhgp5mIg=", base64.StdEncoding.EncodeToString(h.Sum(nil)))
}

func TestChunkedSignedRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		chunk int
	}{
		{"empty", 0, 64 << 10},
		{"one byte", 1, 64 << 10},
		{"3x64KiB+tail", 3*64<<10 + 123, 64 << 10},
		{"exact 8KiB chunks", 4 * 8 << 10, 8 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := payload(tc.size)
			seed := chunkSeed(t, StreamingPayload, len(data), "")
			body := signedBody(t, seed, data, tc.chunk, false)
			for _, slow := range []bool{false, true} {
				out, tr, err := decodeAll(t, body, ChunkedOptions{Mode: StreamingPayload, Seed: seed, Secret: creds.SecretAccessKey, DecodedLength: int64(len(data))}, slow)
				require.NoError(t, err)
				require.Equal(t, data, append([]byte{}, out...))
				require.Empty(t, tr)
			}
			// Without x-amz-decoded-content-length too.
			out, _, err := decodeAll(t, body, ChunkedOptions{Mode: StreamingPayload, Seed: seed, Secret: creds.SecretAccessKey, DecodedLength: -1}, false)
			require.NoError(t, err)
			require.Len(t, out, len(data))
		})
	}
}

func TestChunkedSignedTrailerRoundTrip(t *testing.T) {
	data := payload(3*64<<10 + 5)
	seed := chunkSeed(t, StreamingPayloadTrailer, len(data), "x-amz-checksum-crc32")
	body := appendSignedTrailer(signedBody(t, seed, data, 64<<10, true), seed, creds.SecretAccessKey, "x-amz-checksum-crc32", b64sum(crc32.ChecksumIEEE(data)))
	for _, slow := range []bool{false, true} {
		out, tr, err := decodeAll(t, body, ChunkedOptions{Mode: StreamingPayloadTrailer, Seed: seed, Secret: creds.SecretAccessKey, DecodedLength: int64(len(data)), Trailers: []string{"x-amz-checksum-crc32"}}, slow)
		require.NoError(t, err)
		require.Equal(t, data, out)
		require.Equal(t, b64sum(crc32.ChecksumIEEE(data)), tr.Get("x-amz-checksum-crc32"))
		require.Empty(t, tr.Get("x-amz-trailer-signature"))
	}
}

// sdkPut captures what the real S3 client sends for PutObject over TLS.
type sdkPut struct {
	header http.Header
	body   []byte
}

func capturePut(t testing.TB, body io.Reader, alg s3types.ChecksumAlgorithm) sdkPut {
	t.Helper()
	var (
		mu  sync.Mutex
		got sdkPut
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err == nil && r.Method == http.MethodPut {
			got = sdkPut{header: r.Header.Clone(), body: b}
		}
		w.Header().Set("ETag", `"0"`)
	}))
	t.Cleanup(srv.Close)
	cli := s3.New(s3.Options{
		Region:           chunkRegion,
		Credentials:      credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		HTTPClient:       srv.Client(),
		BaseEndpoint:     aws.String(srv.URL),
		UsePathStyle:     true,
		RetryMaxAttempts: 1,
		// What config.LoadDefaultConfig resolves by default.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	})
	_, err := cli.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("key"), Body: body, ChecksumAlgorithm: alg})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.NotNil(t, got.header, "no PUT captured")
	return got
}

// unsignedOptions builds ChunkedOptions from the captured headers the way the
// S3 emulator does.
func unsignedOptions(t testing.TB, h http.Header) ChunkedOptions {
	t.Helper()
	opt := ChunkedOptions{Mode: h.Get("X-Amz-Content-Sha256"), DecodedLength: -1}
	if v := h.Get("X-Amz-Decoded-Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err)
		opt.DecodedLength = n
	}
	for _, v := range h.Values("X-Amz-Trailer") {
		for _, name := range strings.Split(v, ",") {
			opt.Trailers = append(opt.Trailers, strings.ToLower(strings.TrimSpace(name)))
		}
	}
	return opt
}

// onlyReader hides Seek/Len so the SDK treats the body as a stream of
// unknown length and frames it in 64 KiB chunks.
type onlyReader struct{ io.Reader }

func TestChunkedUnsignedTrailerFromS3Client(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		stream bool
		alg    s3types.ChecksumAlgorithm
		header string
	}{
		{"default crc32", 1000, false, "", "x-amz-checksum-crc32"},
		{"crc32c", 70000, false, s3types.ChecksumAlgorithmCrc32c, "x-amz-checksum-crc32c"},
		{"crc64nvme", 70000, false, s3types.ChecksumAlgorithmCrc64nvme, "x-amz-checksum-crc64nvme"},
		{"sha1", 5, false, s3types.ChecksumAlgorithmSha1, "x-amz-checksum-sha1"},
		{"sha256", 5, false, s3types.ChecksumAlgorithmSha256, "x-amz-checksum-sha256"},
		{"stream 3x64KiB+tail", 3*64<<10 + 77, true, "", "x-amz-checksum-crc32"},
		{"stream crc64nvme", 200000, true, s3types.ChecksumAlgorithmCrc64nvme, "x-amz-checksum-crc64nvme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := payload(tc.size)
			var body io.Reader = bytes.NewReader(data)
			if tc.stream {
				body = onlyReader{bytes.NewReader(data)}
			}
			put := capturePut(t, body, tc.alg)
			require.Equal(t, StreamingUnsignedTrailer, put.header.Get("X-Amz-Content-Sha256"))
			opt := unsignedOptions(t, put.header)
			require.Equal(t, []string{tc.header}, opt.Trailers)
			for _, slow := range []bool{false, true} {
				out, tr, err := decodeAll(t, put.body, opt, slow)
				require.NoError(t, err, "%q", clip(string(put.body)))
				require.Equal(t, data, append([]byte{}, out...))
				require.NotEmpty(t, tr.Get(tc.header))
			}
			// The same body with a corrupted payload byte fails the checksum.
			if tc.size > 0 {
				bad := bytes.Clone(put.body)
				i := bytes.Index(bad, []byte("\r\n")) + 2
				bad[i] ^= 1
				_, _, err := decodeAll(t, bad, opt, false)
				expectCode(t, err, CodeBadDigest)
			}
		})
	}
}

// Bodies the SDK does not chunk (it sends empty ones unchunked) but S3
// accepts.
func TestChunkedUnsignedEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		trailers   []string
		want       string
	}{
		{"empty, no trailer", "0\r\n\r\n", nil, ""},
		{"empty, crc32 trailer", "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", []string{"x-amz-checksum-crc32"}, ""},
		{"upper-case hex, trailer name case, value spaces", "A\r\n0123456789\r\n0\r\nX-Amz-Checksum-CRC32: " + b64sum(crc32.ChecksumIEEE([]byte("0123456789"))) + "\r\n\r\n", []string{"x-amz-checksum-crc32"}, "0123456789"},
		{"small last chunk", fmt.Sprintf("2000\r\n%s\r\n1\r\nb\r\n0\r\n\r\n", bytes.Repeat([]byte("a"), 8192)), nil, strings.Repeat("a", 8192) + "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, tr, err := decodeAll(t, []byte(tc.body), ChunkedOptions{Mode: StreamingUnsignedTrailer, DecodedLength: int64(len(tc.want)), Trailers: tc.trailers}, true)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(out))
			require.Len(t, tr, len(tc.trailers))
		})
	}
}

func TestChunkedUnsupportedModes(t *testing.T) {
	for mode, code := range map[string]string{
		StreamingECDSA:        CodeNotImplemented,
		StreamingECDSATrailer: CodeNotImplemented,
		UnsignedPayload:       CodeInvalidArgument,
		"":                    CodeInvalidArgument,
	} {
		_, err := NewChunkedReader(strings.NewReader(""), ChunkedOptions{Mode: mode, DecodedLength: -1})
		expectCode(t, err, code)
	}
	_, err := NewChunkedReader(strings.NewReader(""), ChunkedOptions{Mode: StreamingPayload, DecodedLength: -1})
	require.Error(t, err, "signed mode without seed")
	_, err = NewChunkedReader(strings.NewReader(""), ChunkedOptions{Mode: StreamingUnsignedTrailer, DecodedLength: -1, Trailers: []string{"x-amz-checksum-md4"}})
	expectCode(t, err, CodeInvalidRequest)
	_, err = NewChunkedReader(strings.NewReader(""), ChunkedOptions{Mode: StreamingUnsignedTrailer, DecodedLength: -1, Trailers: []string{"x-amz-checksum-crc32", "x-amz-checksum-sha1"}})
	expectCode(t, err, CodeInvalidRequest)
	_, err = NewChunkedReader(strings.NewReader(""), ChunkedOptions{Mode: StreamingPayload, Seed: &Signature{Signature: strings.Repeat("a", 64)}, Secret: "s", DecodedLength: -1, Trailers: []string{"x-amz-checksum-crc32"}})
	expectCode(t, err, CodeInvalidRequest)
}

func TestChunkedErrors(t *testing.T) {
	data := payload(2*64<<10 + 100)
	crc := b64sum(crc32.ChecksumIEEE(data))
	signedSeed := chunkSeed(t, StreamingPayload, len(data), "")
	signed := signedBody(t, signedSeed, data, 64<<10, false)
	trSeed := chunkSeed(t, StreamingPayloadTrailer, len(data), "x-amz-checksum-crc32")
	trNoTrailer := signedBody(t, trSeed, data, 64<<10, true)
	trailed := appendSignedTrailer(bytes.Clone(trNoTrailer), trSeed, creds.SecretAccessKey, "x-amz-checksum-crc32", crc)
	unsigned := []byte(fmt.Sprintf("%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n", len(data), data, crc))

	sOpt := ChunkedOptions{Mode: StreamingPayload, Seed: signedSeed, Secret: creds.SecretAccessKey, DecodedLength: int64(len(data))}
	tOpt := ChunkedOptions{Mode: StreamingPayloadTrailer, Seed: trSeed, Secret: creds.SecretAccessKey, DecodedLength: int64(len(data)), Trailers: []string{"x-amz-checksum-crc32"}}
	uOpt := ChunkedOptions{Mode: StreamingUnsignedTrailer, DecodedLength: int64(len(data)), Trailers: []string{"x-amz-checksum-crc32"}}

	with := func(o ChunkedOptions, f func(*ChunkedOptions)) ChunkedOptions { f(&o); return o }
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 0x01; return b }
	replace := func(b []byte, old, new string) []byte {
		require.True(t, bytes.Contains(b, []byte(old)), old)
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
	firstSig := strings.Index(string(signed), "chunk-signature=") + 16
	dataAt := strings.Index(string(signed), "\r\n") + 2
	wrongSeed := *signedSeed
	wrongSeed.Signature = strings.Repeat("0", 64)
	small := fmt.Sprintf("5\r\n%s\r\n5\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n", data[:5], data[5:10], b64sum(crc32.ChecksumIEEE(data[:10])))

	for _, tc := range []struct {
		name string
		body []byte
		opt  ChunkedOptions
		code string
	}{
		{"signed: flipped data byte", flip(signed, dataAt+10), sOpt, CodeSignatureDoesNotMatch},
		{"signed: flipped data byte in last chunk", flip(signed, len(signed)-89-50), sOpt, CodeSignatureDoesNotMatch},
		{"signed: flipped chunk signature", flip(signed, firstSig+3), sOpt, CodeSignatureDoesNotMatch},
		{"signed: upper-case chunk signature", replace(signed, string(signed[firstSig:firstSig+64]), strings.ToUpper(string(signed[firstSig:firstSig+64]))), sOpt, CodeIncompleteBody},
		{"signed: wrong seed", signed, with(sOpt, func(o *ChunkedOptions) { o.Seed = &wrongSeed }), CodeSignatureDoesNotMatch},
		{"signed: wrong secret", signed, with(sOpt, func(o *ChunkedOptions) { o.Secret = "nope" }), CodeSignatureDoesNotMatch},
		{"signed: missing chunk signature", replace(signed, ";chunk-signature="+string(signed[firstSig:firstSig+64]), ""), sOpt, CodeIncompleteBody},
		{"signed: missing final chunk", signed[:bytes.LastIndex(signed, []byte("0;chunk"))], sOpt, CodeIncompleteBody},
		{"signed: missing final CRLF", signed[:len(signed)-2], sOpt, CodeIncompleteBody},
		{"signed: truncated mid-chunk", signed[:dataAt+1000], sOpt, CodeIncompleteBody},
		{"signed: truncated in header", signed[:5], sOpt, CodeIncompleteBody},
		{"signed: truncated inside CRLF", signed[:dataAt+65536+1], sOpt, CodeIncompleteBody},
		{"unsigned: truncated inside CRLF", unsigned[:bytes.Index(unsigned, []byte("\r\n0\r\n"))+1], uOpt, CodeIncompleteBody},
		{"signed: empty body", nil, sOpt, CodeIncompleteBody},
		{"signed: extra bytes after end", append(bytes.Clone(signed), 'x'), sOpt, CodeIncompleteBody},
		{"signed: extra CRLF after end", append(bytes.Clone(signed), "\r\n"...), sOpt, CodeIncompleteBody},
		{"signed: decoded length too small", signed, with(sOpt, func(o *ChunkedOptions) { o.DecodedLength-- }), CodeIncompleteBody},
		{"signed: decoded length too large", signed, with(sOpt, func(o *ChunkedOptions) { o.DecodedLength++ }), CodeIncompleteBody},
		{"signed: oversize chunk", signed, with(sOpt, func(o *ChunkedOptions) { o.MaxChunkSize = 32 << 10 }), CodeInvalidChunkSizeError},
		{"signed: huge size", replace(signed, "10000;", "7fffffffffffffff;"), with(sOpt, func(o *ChunkedOptions) { o.DecodedLength = -1 }), CodeInvalidChunkSizeError},
		{"signed: 17 hex digits", replace(signed, "10000;", "00000000000010000;"), sOpt, CodeIncompleteBody},
		{"signed: negative size", replace(signed, "10000;", "-10000;"), sOpt, CodeIncompleteBody},
		{"signed: non-hex size", replace(signed, "10000;", "1000g;"), sOpt, CodeIncompleteBody},
		{"signed: size one larger", replace(signed, "10000;", "10001;"), with(sOpt, func(o *ChunkedOptions) { o.DecodedLength = -1 }), CodeSignatureDoesNotMatch},
		{"signed: size larger than body", replace(signed, "10000;", "100000;"), with(sOpt, func(o *ChunkedOptions) { o.DecodedLength = -1 }), CodeIncompleteBody},
		{"signed: bare LF after data", replace(signed, "\r\n"+string(signed[dataAt+65536+2:dataAt+65536+7]), "\n"+string(signed[dataAt+65536+2:dataAt+65536+7])), sOpt, CodeIncompleteBody},
		{"signed: header line too long", append([]byte(strings.Repeat("0", 5000)), signed...), sOpt, CodeIncompleteBody},
		{"signed trailer: checksum wrong", appendSignedTrailer(bytes.Clone(trNoTrailer), trSeed, creds.SecretAccessKey, "x-amz-checksum-crc32", "AAAAAA=="), tOpt, CodeBadDigest},
		{"signed trailer: checksum not base64", appendSignedTrailer(bytes.Clone(trNoTrailer), trSeed, creds.SecretAccessKey, "x-amz-checksum-crc32", "!!!!"), tOpt, CodeInvalidRequest},
		{"signed trailer: checksum wrong length", appendSignedTrailer(bytes.Clone(trNoTrailer), trSeed, creds.SecretAccessKey, "x-amz-checksum-crc32", "AAAAAAAA"), tOpt, CodeInvalidRequest},
		{"signed trailer: not announced", trailed, with(tOpt, func(o *ChunkedOptions) { o.Trailers = []string{"x-amz-checksum-sha256"} }), CodeMalformedTrailerError},
		{"signed trailer: announced, none sent", appendSignedTrailerRaw(trNoTrailer, trSeed, ""), tOpt, CodeMalformedTrailerError},
		{"signed trailer: signature wrong", flip(trailed, len(trailed)-10), tOpt, CodeSignatureDoesNotMatch},
		{"signed trailer: signature missing", replace(trailed, "x-amz-trailer-signature:"+string(trailed[len(trailed)-68:len(trailed)-4])+"\r\n", ""), tOpt, CodeSignatureDoesNotMatch},
		{"signed trailer: value changed", replace(trailed, crc, b64sum(crc32.ChecksumIEEE(nil))), tOpt, CodeSignatureDoesNotMatch},
		{"signed trailer: no final CRLF", trailed[:len(trailed)-2], tOpt, CodeIncompleteBody},
		{"signed trailer: extra bytes", append(bytes.Clone(trailed), "x"...), tOpt, CodeIncompleteBody},
		{"unsigned: checksum wrong", replace(unsigned, crc, "AAAAAA=="), uOpt, CodeBadDigest},
		{"unsigned: flipped data byte", flip(unsigned, 10), uOpt, CodeBadDigest},
		{"unsigned: not announced", unsigned, with(uOpt, func(o *ChunkedOptions) { o.Trailers = nil }), CodeMalformedTrailerError},
		{"unsigned: other trailer announced", unsigned, with(uOpt, func(o *ChunkedOptions) { o.Trailers = []string{"x-amz-checksum-crc32c"} }), CodeMalformedTrailerError},
		{"unsigned: duplicate trailer", replace(unsigned, "\r\n\r\n", "\r\nx-amz-checksum-crc32:"+crc+"\r\n\r\n"), uOpt, CodeMalformedTrailerError},
		{"unsigned: trailer without colon", replace(unsigned, "x-amz-checksum-crc32:", "x-amz-checksum-crc32="), uOpt, CodeMalformedTrailerError},
		{"unsigned: trailer bare LF", replace(unsigned, crc+"\r\n", crc+"\n"), uOpt, CodeMalformedTrailerError},
		{"unsigned: trailer signature sent", replace(unsigned, "\r\n\r\n", "\r\nx-amz-trailer-signature:"+strings.Repeat("a", 64)+"\r\n\r\n"), uOpt, CodeMalformedTrailerError},
		{"unsigned: chunk signature sent", replace(unsigned, "\r\n", ";chunk-signature="+strings.Repeat("a", 64)+"\r\n"), uOpt, CodeIncompleteBody},
		{"unsigned: missing final chunk", unsigned[:bytes.Index(unsigned, []byte("\r\n0\r\n"))+2], uOpt, CodeIncompleteBody},
		{"unsigned: truncated mid-chunk", unsigned[:100], uOpt, CodeIncompleteBody},
		{"unsigned: truncated in trailer", unsigned[:len(unsigned)-6], uOpt, CodeIncompleteBody},
		{"unsigned: no final CRLF", unsigned[:len(unsigned)-2], uOpt, CodeIncompleteBody},
		{"unsigned: extra bytes after end", append(bytes.Clone(unsigned), "0\r\n"...), uOpt, CodeIncompleteBody},
		{"unsigned: size larger than data", replace(unsigned, fmt.Sprintf("%x\r\n", len(data)), fmt.Sprintf("%x\r\n", len(data)+1)), with(uOpt, func(o *ChunkedOptions) { o.DecodedLength = -1 }), CodeIncompleteBody},
		{"unsigned: decoded length mismatch", unsigned, with(uOpt, func(o *ChunkedOptions) { o.DecodedLength = 5 }), CodeIncompleteBody},
		{"unsigned: decoded length larger", unsigned, with(uOpt, func(o *ChunkedOptions) { o.DecodedLength++ }), CodeIncompleteBody},
		{"unsigned: non-hex size", replace(unsigned, fmt.Sprintf("%x\r\n", len(data)), "zz\r\n"), uOpt, CodeIncompleteBody},
		{"unsigned: oversize chunk", unsigned, with(uOpt, func(o *ChunkedOptions) { o.MaxChunkSize = 1 << 10 }), CodeInvalidChunkSizeError},
		{"unsigned: small chunk not last", []byte(small), with(uOpt, func(o *ChunkedOptions) { o.DecodedLength = 10 }), CodeInvalidChunkSizeError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, slow := range []bool{false, true} {
				_, _, err := decodeAll(t, tc.body, tc.opt, slow)
				expectCode(t, err, tc.code)
			}
		})
	}
}

// appendSignedTrailerRaw appends a signed trailer section whose canonical
// lines are canon ("" for none).
func appendSignedTrailerRaw(body []byte, seed *Signature, canon string) []byte {
	last := string(body[bytes.LastIndex(body, []byte("chunk-signature="))+16:])[:64]
	return append(bytes.Clone(body), strings.ReplaceAll(canon, "\n", "\r\n")+"x-amz-trailer-signature:"+trailerSignature(seed, creds.SecretAccessKey, last, canon)+"\r\n\r\n"...)
}

// A caller never sees a byte of a chunk whose signature is wrong.
func TestChunkedVerifiesBeforeReturning(t *testing.T) {
	data := payload(64<<10 + 10)
	seed := chunkSeed(t, StreamingPayload, len(data), "")
	body := signedBody(t, seed, data, 64<<10, false)
	at := bytes.Index(body, []byte("\r\n")) + 2 + 65536 + 2 + 20
	body[at+5] ^= 1 // inside chunk 2's header signature
	c, err := NewChunkedReader(bytes.NewReader(body), ChunkedOptions{Mode: StreamingPayload, Seed: seed, Secret: creds.SecretAccessKey, DecodedLength: -1})
	require.NoError(t, err)
	out, err := io.ReadAll(c)
	expectCode(t, err, CodeSignatureDoesNotMatch)
	require.Equal(t, data[:65536], out, "only the verified first chunk")
	_, err = c.Read(make([]byte, 1))
	expectCode(t, err, CodeSignatureDoesNotMatch) // sticky

	// A bad first chunk yields nothing at all.
	body = signedBody(t, seed, data, 64<<10, false)
	body[bytes.Index(body, []byte("\r\n"))+3] ^= 1
	c, err = NewChunkedReader(bytes.NewReader(body), ChunkedOptions{Mode: StreamingPayload, Seed: seed, Secret: creds.SecretAccessKey, DecodedLength: -1})
	require.NoError(t, err)
	n, err := c.Read(make([]byte, 1<<20))
	require.Zero(t, n)
	expectCode(t, err, CodeSignatureDoesNotMatch)
}

// Read errors of the body pass through unchanged.
func TestChunkedBodyError(t *testing.T) {
	boom := io.ErrClosedPipe
	c, err := NewChunkedReader(iotest.ErrReader(boom), ChunkedOptions{Mode: StreamingUnsignedTrailer, DecodedLength: -1})
	require.NoError(t, err)
	_, err = io.ReadAll(c)
	require.ErrorIs(t, err, boom)
}

func ExampleNewChunkedReader() {
	// What aws-sdk-go-v2 PutObject sends over HTTPS for "hello":
	// x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER,
	// x-amz-trailer: x-amz-checksum-crc32, x-amz-decoded-content-length: 5.
	body := strings.NewReader("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n")
	c, err := NewChunkedReader(body, ChunkedOptions{
		Mode:          StreamingUnsignedTrailer,
		DecodedLength: 5,
		Trailers:      []string{"x-amz-checksum-crc32"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := io.ReadAll(c) // store data only once err is nil
	fmt.Println(string(data), err, c.Trailer().Get("x-amz-checksum-crc32"))
	// Output: hello <nil> NhCmhg==
}
