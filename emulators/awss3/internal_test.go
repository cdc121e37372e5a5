package awss3

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/sigv4"
)

func TestParseHost(t *testing.T) {
	for _, tc := range []struct {
		host, bucket, region string
		virtual              bool
	}{
		{"s3.amazonaws.com", "", "us-east-1", false},
		{"s3.us-west-2.amazonaws.com", "", "us-west-2", false},
		{"s3-us-west-2.amazonaws.com", "", "us-west-2", false},
		{"s3.dualstack.eu-west-1.amazonaws.com", "", "eu-west-1", false},
		{"my-bucket.s3.amazonaws.com", "my-bucket", "us-east-1", true},
		{"my-bucket.s3.us-east-1.amazonaws.com:443", "my-bucket", "us-east-1", true},
		{"my.dotted.bucket.s3-us-west-2.amazonaws.com", "my.dotted.bucket", "us-west-2", true},
		{"b.s3.dualstack.us-west-2.amazonaws.com", "b", "us-west-2", true},
		{"my.s3.bucket.s3.amazonaws.com", "my.s3.bucket", "us-east-1", true},
		{"sts.s3.us-west-2.amazonaws.com", "sts", "us-west-2", true},
		{"127.0.0.1:8443", "", "", false},
		{"localhost", "", "", false},
		{"sts.amazonaws.com", "", "", false},
	} {
		b, r, v := parseHost(tc.host)
		require.Equal(t, []any{tc.bucket, tc.region, tc.virtual}, []any{b, r, v}, tc.host)
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		h          string
		size       int64
		start, end int64
		ok, unsat  bool
	}{
		{"bytes=0-9", 100, 0, 9, true, false},
		{"bytes=90-", 100, 90, 99, true, false},
		{"bytes=-10", 100, 90, 99, true, false},
		{"bytes=-200", 100, 0, 99, true, false},
		{"bytes=50-500", 100, 50, 99, true, false},
		{"bytes=100-", 100, 0, 0, false, true},
		{"bytes=-0", 100, 0, 0, false, true},
		{"bytes=0-", 0, 0, 0, false, true},
		{"bytes=5-1", 100, 0, 0, false, false},
		{"bytes=0-1,5-6", 100, 0, 0, false, false},
		{"items=0-1", 100, 0, 0, false, false},
		{"bytes=x-1", 100, 0, 0, false, false},
	} {
		s, e, ok, unsat := parseRange(tc.h, tc.size)
		require.Equal(t, []any{tc.start, tc.end, tc.ok, tc.unsat}, []any{s, e, ok, unsat}, tc.h)
	}
}

func TestListObjectsPaging(t *testing.T) {
	var objs []Object
	for _, k := range []string{"a/1", "a/2", "b", "c/x/1", "c/y", "d"} {
		objs = append(objs, Object{Key: k})
	}
	keys := func(p listPage) (out []string) {
		for _, o := range p.objects {
			out = append(out, o.Key)
		}
		return append(out, p.prefixes...)
	}
	p := listObjects(objs, "", "/", "", 2)
	require.Equal(t, []string{"b", "a/"}, keys(p))
	require.True(t, p.truncated)
	require.Equal(t, "b", p.last)
	p = listObjects(objs, "", "/", p.last, 2)
	require.Equal(t, []string{"d", "c/"}, keys(p))
	require.False(t, p.truncated)
	p = listObjects(objs, "c/", "/", "", 1000)
	require.Equal(t, []string{"c/y", "c/x/"}, keys(p))
	p = listObjects(objs, "", "", "c/x/1", 1000)
	require.Equal(t, []string{"c/y", "d"}, keys(p))
	p = listObjects(objs, "", "", "", 0)
	require.Empty(t, keys(p))
}

func TestValidBucketName(t *testing.T) {
	for name, ok := range map[string]bool{"ab": false, "abc": true, "my.bucket-1": true, "My-Bucket": false, "a..b": false,
		"192.168.5.4": false, "xn--abc": false, "abc-s3alias": false, "-abc": false, "abc-": false} {
		require.Equal(t, ok, validBucketName(name), name)
	}
}

func TestBucketRegion(t *testing.T) {
	for _, tc := range []struct{ constraint, endpoint, want, code string }{
		{"", "us-east-1", "us-east-1", ""},
		{"", "us-west-2", "", "IllegalLocationConstraintException"},
		{"us-west-2", "us-west-2", "us-west-2", ""},
		{"eu-west-1", "us-east-1", "", "IllegalLocationConstraintException"},
		{"us-east-1", "us-east-1", "", "InvalidLocationConstraint"},
		{"mars-1", "us-east-1", "", "InvalidLocationConstraint"},
	} {
		got, err := bucketRegion(tc.constraint, tc.endpoint)
		if tc.code != "" {
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.code, e.Code)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

// TestChunkError: every code the sigv4 aws-chunked reader reports gets S3's
// code and status; a code S3 has no answer for is an internal error, not a
// code passed through unchecked.
func TestChunkError(t *testing.T) {
	tests := []struct {
		code   string
		status int
		want   string
	}{
		{sigv4.CodeIncompleteBody, http.StatusBadRequest, "IncompleteBody"},
		{sigv4.CodeInvalidChunkSizeError, http.StatusForbidden, "InvalidChunkSizeError"},
		{sigv4.CodeBadDigest, http.StatusBadRequest, "BadDigest"},
		{sigv4.CodeMalformedTrailerError, http.StatusBadRequest, "MalformedTrailerError"},
		{sigv4.CodeInvalidRequest, http.StatusBadRequest, "InvalidRequest"},
		{sigv4.CodeInvalidArgument, http.StatusBadRequest, "InvalidArgument"},
		{sigv4.CodeNotImplemented, http.StatusNotImplemented, "NotImplemented"},
		{sigv4.CodeSignatureDoesNotMatch, http.StatusForbidden, "SignatureDoesNotMatch"},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			var e *Error
			require.ErrorAs(t, chunkError(&sigv4.Error{Code: tc.code, Msg: "m"}), &e)
			require.Equal(t, &Error{Status: tc.status, Code: tc.want, Message: "m"}, e)
		})
	}
	var e *Error
	require.False(t, errors.As(chunkError(&sigv4.Error{Code: sigv4.CodeRequestExpired, Msg: "m"}), &e),
		"a code with no S3 answer must not reach the wire")
}
