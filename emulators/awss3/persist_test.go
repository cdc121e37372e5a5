package awss3_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awss3"
)

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	l := newLab(t, dir)
	ctx := context.Background()
	a := l.roleClient(t, acctA, "app-a")
	_, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch-keep")})
	require.NoError(t, err)
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::scratch-keep/*"}]}`
	_, err = a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("scratch-keep"), Policy: aws.String(pol)})
	require.NoError(t, err)
	_, err = a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("scratch-keep"), Key: aws.String("a//b c"), Body: strings.NewReader("v1"),
		Metadata: map[string]string{"k": "v"}})
	require.NoError(t, err)
	_, err = a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("scratch-keep"), Key: aws.String("a//b c"), Body: strings.NewReader("v2")})
	require.NoError(t, err)
	_, err = a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("scratch-keep"), Key: aws.String("gone"), Body: strings.NewReader("x")})
	require.NoError(t, err)
	_, err = a.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("scratch-keep"), Key: aws.String("gone")})
	require.NoError(t, err)
	cr, err := a.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("scratch-keep"), Key: aws.String("mp")})
	require.NoError(t, err)
	_, err = a.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("scratch-keep"), Key: aws.String("mp"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part one")})
	require.NoError(t, err)
	l.srv.Close()

	// A leftover temp file from a crash mid-write is ignored.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "buckets", ".tmp-crash"), []byte("half"), 0o644))

	h, err := awss3.New(awss3.Options{IAM: l.iam, Now: l.clock.Now, DataDir: dir})
	require.NoError(t, err)
	data, err := h.GetObject(ctx, "scratch-keep", "a//b c")
	require.NoError(t, err)
	require.Equal(t, "v2", string(data))
	_, err = h.GetObject(ctx, "scratch-keep", "gone")
	require.Error(t, err)
	data, err = h.GetObject(ctx, "bucket-a", "hello.txt")
	require.NoError(t, err)
	require.Equal(t, "hello from a", string(data))

	// The policy and the upload survived: anonymous read works, the upload completes.
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/scratch-keep/a//b%20c")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	rec := httptest.NewRecorder()
	h.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", awss3.AdminPrefix+"/buckets", nil))
	require.Equal(t, 200, rec.Code)
	var buckets []struct {
		Name    string          `json:"name"`
		Owner   string          `json:"owner"`
		Policy  json.RawMessage `json:"policy"`
		Objects int             `json:"objects"`
		Uploads int             `json:"uploads"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &buckets))
	var keep bool
	for _, b := range buckets {
		if b.Name == "scratch-keep" {
			keep = true
			require.Equal(t, acctA, b.Owner)
			require.JSONEq(t, pol, string(b.Policy))
			require.Equal(t, 1, b.Objects)
			require.Equal(t, 1, b.Uploads)
		}
	}
	require.True(t, keep)
	rec = httptest.NewRecorder()
	h.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", awss3.AdminPrefix+"/buckets/scratch-keep/objects", nil))
	require.Equal(t, 200, rec.Code)
	require.Contains(t, rec.Body.String(), `"key":"a//b c"`)

	// Seeding is idempotent for the owner, refused for another.
	require.NoError(t, h.CreateBucket(ctx, awss3.BucketSpec{Name: "bucket-a", Owner: acctA}))
	require.ErrorIs(t, h.CreateBucket(ctx, awss3.BucketSpec{Name: "bucket-a", Owner: acctB}), awss3.ErrBucketExists)
}
