package sigv4

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"sort"
	"testing"

	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
)

// fuzzTrailers are the x-amz-trailer announcements a fuzz input picks from.
var fuzzTrailers = [][]string{nil, {"x-amz-checksum-crc32"}, {"x-amz-checksum-crc32c"}, {"x-amz-checksum-crc64nvme"}, {"x-amz-checksum-sha1"}, {"x-amz-checksum-sha256"}}

// readChunked drains c in uneven reads.
func readChunked(c *ChunkedReader) ([]byte, error) {
	var out []byte
	sizes := []int{1, 7, 61, 4096}
	buf := make([]byte, 4096)
	for i := 0; ; i++ {
		n, err := c.Read(buf[:sizes[i%len(sizes)]])
		out = append(out, buf[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
	}
}

// encodeUnsigned frames data as unsigned aws-chunked with the given chunk
// size and trailers, the way the SDK does.
func encodeUnsigned(data []byte, chunk int, trailer http.Header) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		n := min(chunk, len(data))
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(data[:n])
		b.WriteString("\r\n")
		data = data[n:]
	}
	b.WriteString("0\r\n")
	names := make([]string, 0, len(trailer))
	for k := range trailer {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		b.WriteString(k + ":" + trailer.Get(k) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func FuzzChunkedUnsigned(f *testing.F) {
	for i, alg := range []s3types.ChecksumAlgorithm{s3types.ChecksumAlgorithmCrc32, s3types.ChecksumAlgorithmCrc32c, s3types.ChecksumAlgorithmCrc64nvme, s3types.ChecksumAlgorithmSha1, s3types.ChecksumAlgorithmSha256} {
		put := capturePut(f, bytes.NewReader(payload(10+i)), alg)
		f.Add(put.body, uint8(i+1))
	}
	put := capturePut(f, onlyReader{bytes.NewReader(payload(64<<10 + 3))}, s3types.ChecksumAlgorithmCrc32)
	f.Add(put.body, uint8(1))
	f.Add([]byte("0\r\n\r\n"), uint8(0))
	f.Add([]byte("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), uint8(1))
	f.Add([]byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:"+b64sum(crc32.ChecksumIEEE([]byte("hello")))+"\r\n\r\n"), uint8(1))
	f.Add([]byte("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"), uint8(0))
	f.Add([]byte("ffffffffffffffff\r\n"), uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, pick uint8) {
		trailers := fuzzTrailers[int(pick)%len(fuzzTrailers)]
		opt := ChunkedOptions{Mode: StreamingUnsignedTrailer, DecodedLength: -1, Trailers: trailers}
		c, err := NewChunkedReader(bytes.NewReader(body), opt)
		require.NoError(t, err)
		out, err := readChunked(c)
		require.LessOrEqual(t, len(out), len(body))
		if err != nil {
			var e *Error
			require.True(t, errors.As(err, &e), "error %T %v is not *Error", err, err)
			require.Nil(t, c.Trailer())
			return
		}
		tr := c.Trailer()
		require.Len(t, tr, len(trailers))
		// Re-encoded (one chunk, and 8 KiB chunks) it decodes to the same
		// bytes and trailers, with the exact decoded length.
		opt.DecodedLength = int64(len(out))
		for _, chunk := range []int{max(len(out), 1), minChunkSize} {
			again, tr2, err := decodeAll(t, encodeUnsigned(out, chunk, tr), opt, false)
			require.NoError(t, err)
			require.Equal(t, string(out), string(again))
			require.Equal(t, tr, tr2)
		}
	})
}

func FuzzChunkedSigned(f *testing.F) {
	const crcName = "x-amz-checksum-crc32"
	seed := chunkSeed(f, StreamingPayload, -1, "")
	tseed := chunkSeed(f, StreamingPayloadTrailer, -1, crcName)
	options := func(trailer bool) ChunkedOptions {
		if trailer {
			return ChunkedOptions{Mode: StreamingPayloadTrailer, Seed: tseed, Secret: creds.SecretAccessKey, DecodedLength: -1, Trailers: []string{crcName}}
		}
		return ChunkedOptions{Mode: StreamingPayload, Seed: seed, Secret: creds.SecretAccessKey, DecodedLength: -1}
	}
	for _, n := range []int{0, 1, 100, minChunkSize + 5} {
		data := payload(n)
		f.Add(signedBody(f, seed, data, minChunkSize, false), false)
		f.Add(appendSignedTrailer(signedBody(f, tseed, data, minChunkSize, true), tseed, creds.SecretAccessKey, crcName, b64sum(crc32.ChecksumIEEE(data))), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, trailer bool) {
		opt := options(trailer)
		c, err := NewChunkedReader(bytes.NewReader(body), opt)
		require.NoError(t, err)
		out, err := readChunked(c)
		require.LessOrEqual(t, len(out), len(body))
		if err != nil {
			var e *Error
			require.True(t, errors.As(err, &e), "error %T %v is not *Error", err, err)
			return
		}
		// Accepted: every signature in it must matter. Changing one hex
		// digit of any chunk or trailer signature is rejected.
		var sigs []int
		for _, marker := range []string{";chunk-signature=", "\r\nx-amz-trailer-signature:"} {
			for i := 0; ; {
				j := bytes.Index(body[i:], []byte(marker))
				if j < 0 {
					break
				}
				sigs = append(sigs, i+j+len(marker))
				i += j + len(marker)
			}
		}
		require.NotEmpty(t, sigs, "accepted without any signature")
		for _, at := range sigs {
			if at+64 > len(body) {
				continue // the marker text inside data; a change there fails the data hash anyway
			}
			for _, off := range []int{0, 63} {
				bad := bytes.Clone(body)
				if bad[at+off] == '0' {
					bad[at+off] = '1'
				} else {
					bad[at+off] = '0'
				}
				c, err := NewChunkedReader(bytes.NewReader(bad), opt)
				require.NoError(t, err)
				_, err = readChunked(c)
				require.Error(t, err, "accepted with signature byte %d changed", at+off)
			}
		}
		// And the data is what a fresh decode returns.
		again, _, err := decodeAll(t, body, opt, false)
		require.NoError(t, err)
		require.Equal(t, string(out), string(again))
	})
}
