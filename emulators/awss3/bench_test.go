package awss3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/tlsserver"
)

// BenchmarkPutGet measures authenticated PutObject and GetObject through the
// real SDK over HTTPS on loopback: this emulator (SigV4 verification, the
// aws-chunked decoder, IAM evaluation, the in-memory store) side by side with
// gofakes3 serving the same requests with no authentication at all, in the
// same run. It prints the idlab/gofakes3 ratio of requests per second; the
// ratio is the claim, absolute numbers depend on the machine.
func BenchmarkPutGet(b *testing.B) {
	ctx := context.Background()
	l := newLab(b, "")
	ours := l.roleClient(b, acctA, "app-a")

	// The peer gets its own server and its own client, set up as ours is
	// (same CA, same transport): l.srv.Client() would dial idlab whatever
	// URL a request names.
	peer, err := tlsserver.Start(l.ca, gofakes3.New(s3mem.New()).Server())
	require.NoError(b, err)
	b.Cleanup(peer.Close)
	theirs := s3.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		HTTPClient:  peer.Client(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDPEER", "peer-secret", ""),
	}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(peer.URL())
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	})
	_, err = theirs.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bucket-a")})
	require.NoError(b, err)

	var mu sync.Mutex
	perSec := map[string]float64{} // "PutObject/4KiB/idlab" -> req/s of the final run
	for _, size := range []int{4 << 10, 1 << 20} {
		data := bytes.Repeat([]byte("idlab-s3-bench.."), size/16)
		sizeName := fmt.Sprintf("%dKiB", size>>10)
		for _, op := range []string{"PutObject", "GetObject"} {
			for _, impl := range []struct {
				name   string
				client *s3.Client
			}{{"idlab", ours}, {"gofakes3", theirs}} {
				key := "bench/" + sizeName
				if op == "GetObject" {
					_, err := impl.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket-a"), Key: &key, Body: bytes.NewReader(data)})
					require.NoError(b, err)
				}
				name := op + "/" + sizeName + "/" + impl.name
				b.Run(name, func(b *testing.B) {
					b.SetBytes(int64(size))
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if op == "PutObject" {
							_, err := impl.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket-a"), Key: &key, Body: bytes.NewReader(data)})
							if err != nil {
								b.Fatal(err)
							}
							continue
						}
						out, err := impl.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket-a"), Key: &key})
						if err != nil {
							b.Fatal(err)
						}
						n, err := io.Copy(io.Discard, out.Body)
						_ = out.Body.Close()
						if err != nil || n != int64(size) {
							b.Fatalf("read %d of %d bytes: %v", n, size, err)
						}
					}
					rps := float64(b.N) / b.Elapsed().Seconds()
					b.ReportMetric(rps, "req/s")
					mu.Lock()
					perSec[name] = rps
					mu.Unlock()
				})
			}
		}
	}
	var lines []string
	for name, rps := range perSec {
		if base, ok := strings.CutSuffix(name, "/idlab"); ok {
			if peerRPS := perSec[base+"/gofakes3"]; peerRPS > 0 {
				lines = append(lines, fmt.Sprintf("%-18s idlab %8.0f req/s  gofakes3 %8.0f req/s  ratio %.2f", base, rps, peerRPS, rps/peerRPS))
			}
		}
	}
	sort.Strings(lines)
	// Printed rather than logged: go test shows a parent benchmark's log only with -v.
	fmt.Printf("S3 ratio: authenticated idlab vs unauthenticated gofakes3, same run, %s\n%s\n",
		time.Now().UTC().Format(time.RFC3339), strings.Join(lines, "\n"))
}
