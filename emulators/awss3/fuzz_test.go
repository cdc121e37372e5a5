package awss3

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func FuzzParseCompleteMultipartUpload(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><PartNumber>1</PartNumber><ETag>"abc"</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload></CompleteMultipartUpload>`))
	f.Add([]byte(`<Part>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCompleteMultipartUpload(data)
		if err == nil && len(c.Parts) == 0 {
			t.Fatal("accepted a part list without parts")
		}
	})
}

func FuzzParseDeleteRequest(f *testing.F) {
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b</Key><VersionId>null</VersionId></Object></Delete>`))
	f.Add([]byte(`<Delete/>`))
	f.Add([]byte(`<Delete><Object><Key>a</Key></Object></Delete><junk/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parseDeleteRequest(data)
		if err == nil && (len(d.Objects) == 0 || len(d.Objects) > maxDeleteKeys) {
			t.Fatalf("accepted %d objects", len(d.Objects))
		}
	})
}

func FuzzParseCreateBucketConfiguration(f *testing.F) {
	f.Add([]byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>`))
	f.Add([]byte(``))
	f.Add([]byte(`<CreateBucketConfiguration>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCreateBucketConfiguration(data)
		if err == nil && c != "" {
			_, _ = bucketRegion(c, "us-east-1")
		}
	})
}

func FuzzParseRange(f *testing.F) {
	f.Add("bytes=0-10", int64(100))
	f.Add("bytes=-5", int64(3))
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return
		}
		s, e, ok, unsat := parseRange(h, size)
		if ok && (unsat || s < 0 || e < s || e >= size) {
			t.Fatalf("range %q of %d gave %d-%d", h, size, s, e)
		}
	})
}

func FuzzParseHost(f *testing.F) {
	f.Add("my.bucket.s3.us-west-2.amazonaws.com:443")
	f.Fuzz(func(t *testing.T, host string) {
		b, _, v := parseHost(host)
		if v && b == "" {
			t.Fatalf("virtual host %q without a bucket", host)
		}
	})
}

// FuzzSigV2: the Authorization header and query string are the caller's;
// sigV2 never panics, and calls SigV2 only what carries its marks.
func FuzzSigV2(f *testing.F) {
	f.Add("AWS AKIAEXAMPLE:c2ln", "")
	f.Add("", "AWSAccessKeyId=AKIA&Signature=x&Expires=1")
	f.Add("AWS4-HMAC-SHA256 Credential=x", "Signature=x")
	f.Add("", "X-Amz-Signature=0&Signature=x")
	f.Fuzz(func(t *testing.T, auth, rawQuery string) {
		r := &http.Request{Header: http.Header{}, URL: &url.URL{RawQuery: rawQuery}}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		akid, ok := sigV2(r)
		if !ok {
			if akid != "" {
				t.Fatalf("no SigV2 but key %q", akid)
			}
			return
		}
		q := r.URL.Query()
		header := strings.HasPrefix(r.Header.Get("Authorization"), "AWS ")
		if !header && !q.Has("AWSAccessKeyId") && !q.Has("Signature") {
			t.Fatalf("SigV2 without its header or parameters: %q %q", auth, rawQuery)
		}
		if header && strings.Contains(akid, ":") {
			t.Fatalf("key %q holds the signature", akid)
		}
	})
}
