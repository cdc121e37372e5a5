package sigv4

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIA/20261122/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	f.Add("AWS4-HMAC-SHA256 Credential=//////, SignedHeaders=;;, Signature=")
	f.Add("AWS AKIA:x")
	f.Fuzz(func(t *testing.T, auth string) {
		s, err := ParseAuthorization(auth)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		if s.AccessKeyID == "" || len(s.Signature) != 64 || len(s.SignedHeaders) == 0 {
			t.Fatalf("accepted an incomplete signature: %+v", s)
		}
		// Verifying arbitrary accepted headers must not panic either.
		r := httptest.NewRequest(http.MethodGet, "https://sts.amazonaws.com/", nil)
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", "20261122T120000Z")
		if ps, err := Parse(r); err == nil {
			_ = Verify(r, ps, "secret", ps.Time, Options{})
		}
	})
}

func FuzzParsePresigned(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261122%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261122T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	f.Add("X-Amz-Signature=&&&==%zz")
	f.Fuzz(func(t *testing.T, rawQuery string) {
		// Built by hand: a server sees any bytes after '?', even ones
		// httptest.NewRequest refuses (spaces).
		u := &url.URL{Scheme: "https", Host: "b.s3.amazonaws.com", Path: "/k", RawQuery: rawQuery}
		r := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}}
		s, err := Parse(r)
		if err != nil {
			return
		}
		// X-Amz-Expires may be absent (0) only outside S3.
		if s.Presigned && (s.Expires < 0 || s.Expires > MaxPresignExpiry || s.Expires == 0 && s.Service == "s3") {
			t.Fatalf("accepted X-Amz-Expires %v", s.Expires)
		}
		_ = Verify(r, s, "secret", s.Time, Options{S3: true})
	})
}

// FuzzCanonicalQueryFastPath checks that the canonical query Verify
// builds for a plain single pair is canonicalQuery's, for any query.
func FuzzCanonicalQueryFastPath(f *testing.F) {
	for _, q := range []string{"x-id=GetObject", "uploads", "a=", "=a", "a=b=c", "a=b&c=d", "a%20b=c", "a+b=c", "list-type=2", "~._-=~._-", ""} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !plainQueryPair(raw) {
			return
		}
		s := &Signature{SignedHeaders: []string{"host"}, PayloadHash: UnsignedPayload}
		r := httptest.NewRequest(http.MethodGet, "https://s3.local/b/k", nil)
		r.URL.RawQuery = raw
		got, err := appendCanonical(nil, r, s, Options{S3: true})
		if err != nil {
			t.Fatal(err)
		}
		want := "GET\n/b/k\n" + canonicalQuery(raw, false) + "\nhost:s3.local\n\nhost\nUNSIGNED-PAYLOAD"
		if string(got) != want {
			t.Fatalf("query %q: canonical request\n%q, want\n%q", raw, got, want)
		}
	})
}
