package awss3_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"
)

// captured is one request as the SDK sent it, to be served again and again.
type captured struct {
	req  *http.Request
	body []byte
}

// capturer is an SDK HTTP client that keeps the request and answers 200.
type capturer struct{ got *captured }

func (c *capturer) Do(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
	}
	c.got = &captured{req: r, body: body}
	h := http.Header{"Etag": {`"x"`}, "Content-Length": {"0"}}
	return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

// replay is the captured request with a fresh body.
func (c *captured) replay() *http.Request {
	r := c.req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(c.body))
	r.RemoteAddr = "127.0.0.1:50000"
	r.RequestURI = r.URL.RequestURI()
	r.Host = c.req.URL.Host
	if r.ContentLength > 0 { // a server's request keeps the header
		r.Header.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	return r
}

// sink is a ResponseWriter that discards the body.
type sink struct {
	h      http.Header
	status int
}

func (s *sink) Header() http.Header         { return s.h }
func (s *sink) Write(p []byte) (int, error) { return len(p), nil }
func (s *sink) WriteHeader(code int)        { s.status = code }

// BenchmarkHandler is the server's own cost of an SDK-signed 4 KiB
// PutObject and GetObject, without TLS or the network: the request the SDK
// signed is served by the handler directly, idlab's (SigV4, IAM, in memory
// or on disk) beside gofakes3's (no authentication, in memory). ns/op and
// allocs/op are the handler's alone.
func BenchmarkHandler(b *testing.B) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("idlab-s3-bench.."), 4<<10/16)
	peer := gofakes3.New(s3mem.New()).Server()
	for _, impl := range []string{"idlab-memory", "idlab-disk", "gofakes3"} {
		var h http.Handler = peer
		creds := credentials.NewStaticCredentialsProvider("AKIDPEER", "peer-secret", "")
		if impl != "gofakes3" {
			dir := ""
			if impl == "idlab-disk" {
				dir = b.TempDir()
			}
			l := newLab(b, dir)
			h = l.srv.Handler()
			c := l.session(b, roleARN(acctA, "app-a"), 12*3600e9)
			creds = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
		} else {
			w := &sink{h: http.Header{}}
			r, err := http.NewRequest(http.MethodPut, "http://s3.local/bucket-a", nil)
			require.NoError(b, err)
			h.ServeHTTP(w, r)
		}
		capt := &capturer{}
		cl := s3.New(s3.Options{Region: "us-east-1", HTTPClient: capt, BaseEndpoint: aws.String("https://127.0.0.1:4443"),
			UsePathStyle: true, Credentials: creds})
		_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket-a"), Key: aws.String("bench/4KiB"), Body: bytes.NewReader(data)})
		require.NoError(b, err)
		put := capt.got
		w := &sink{h: http.Header{}}
		h.ServeHTTP(w, put.replay()) // GetObject alone finds the object
		require.Contains(b, []int{0, http.StatusOK}, w.status)
		_, err = cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket-a"), Key: aws.String("bench/4KiB")})
		require.NoError(b, err)
		get := capt.got
		for _, op := range []struct {
			name string
			c    *captured
		}{{"PutObject", put}, {"GetObject", get}} {
			b.Run(op.name+"/"+impl, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					w := &sink{h: http.Header{}}
					h.ServeHTTP(w, op.c.replay())
					if w.status != 0 && w.status != http.StatusOK {
						b.Fatalf("%s: status %d", op.name, w.status)
					}
				}
			})
		}
	}
}
