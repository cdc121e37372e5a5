package awss3

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strings"
)

// checksumAlgorithms are the flexible checksums S3 accepts, in the order
// their x-amz-checksum-* headers are looked for.
var checksumAlgorithms = []string{"crc32", "crc32c", "crc64nvme", "sha1", "sha256"}

var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// newChecksum returns the hash behind an algorithm name (lower case).
func newChecksum(alg string) hash.Hash {
	switch alg {
	case "crc32":
		return crc32.NewIEEE()
	case "crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "crc64nvme":
		return crc64.New(crc64NVME)
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	}
	return nil
}

// computeChecksum returns base64 of the algorithm's digest of data.
func computeChecksum(alg string, data []byte) string {
	h := newChecksum(alg)
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// verifyChecksum checks a client-sent value against data: InvalidRequest
// when it is not a digest of the right size, BadDigest when it differs.
func verifyChecksum(alg, value string, data []byte) error {
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil || len(raw) != newChecksum(alg).Size() {
		return errInvalidRequest("Value for x-amz-checksum-%s header is invalid.", alg)
	}
	if computeChecksum(alg, data) != value {
		return newError(400, "BadDigest", "The %s you specified did not match the calculated checksum.", strings.ToUpper(alg))
	}
	return nil
}
