package awss3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awss3"
)

func readAll(t *testing.T, out *s3.GetObjectOutput, err error) string {
	t.Helper()
	require.NoError(t, err)
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return string(b)
}

func TestSDKBuckets(t *testing.T) {
	l := newLab(t, "")
	ctx := context.Background()
	a := l.roleClient(t, acctA, "app-a")
	b := l.roleClient(t, acctB, "app-b")

	lb, err := a.ListBuckets(ctx, &s3.ListBucketsInput{})
	require.NoError(t, err)
	var names []string
	for _, bk := range lb.Buckets {
		names = append(names, aws.ToString(bk.Name))
	}
	require.Equal(t, []string{"bucket-a", "public-a"}, names, "only the caller's account's buckets")

	_, err = a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch-one")})
	require.NoError(t, err)
	_, err = a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("scratch-one")})
	require.NoError(t, err)
	// us-east-1 keeps the legacy 200 for a bucket you already own.
	_, err = a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch-one")})
	require.NoError(t, err)
	loc, err := a.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("scratch-one")})
	require.NoError(t, err)
	require.Equal(t, types.BucketLocationConstraint(""), loc.LocationConstraint)

	west := l.client(l.session(t, roleARN(acctA, "app-a"), time.Hour), func(o *s3.Options) { o.Region = "us-west-2" })
	_, err = west.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch-west"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintUsWest2}})
	require.NoError(t, err)
	_, err = west.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch-west"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintUsWest2}})
	require.Equal(t, "BucketAlreadyOwnedByYou", apiCode(t, err))
	loc, err = west.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("scratch-west")})
	require.NoError(t, err)
	require.Equal(t, types.BucketLocationConstraintUsWest2, loc.LocationConstraint)
	_, err = west.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch-nowhere")})
	require.Equal(t, "IllegalLocationConstraintException", apiCode(t, err))
	_, err = a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch-eu"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}})
	require.Equal(t, "IllegalLocationConstraintException", apiCode(t, err))

	_, err = b.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch-taken")})
	require.NoError(t, err)
	_, err = a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch-taken")})
	require.Equal(t, "BucketAlreadyExists", apiCode(t, err))
	_, err = a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch_Bad")})
	require.Equal(t, "InvalidBucketName", apiCode(t, err))

	_, err = a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("scratch-missing")})
	require.Equal(t, "NotFound", apiCode(t, err))
	_, err = a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("scratch-missing")})
	require.Equal(t, "NoSuchBucket", apiCode(t, err))

	// Policies.
	_, err = a.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("scratch-one")})
	require.Equal(t, "NoSuchBucketPolicy", apiCode(t, err))
	_, err = a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("scratch-one"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::scratch-one/*"}]}`)})
	require.Equal(t, "MalformedPolicy", apiCode(t, err), "a bucket policy needs a Principal")
	_, err = a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("scratch-one"), Policy: aws.String("not json")})
	require.Equal(t, "MalformedPolicy", apiCode(t, err))
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::scratch-one/*"}]}`
	_, err = a.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("scratch-one"), Policy: aws.String(pol)})
	require.NoError(t, err)
	gp, err := a.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("scratch-one")})
	require.NoError(t, err)
	require.JSONEq(t, pol, aws.ToString(gp.Policy))
	_, err = a.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("scratch-one")})
	require.NoError(t, err)

	// Delete: not while it holds an object.
	_, err = a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("scratch-one"), Key: aws.String("x"), Body: strings.NewReader("x")})
	require.NoError(t, err)
	_, err = a.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("scratch-one")})
	require.Equal(t, "BucketNotEmpty", apiCode(t, err))
	_, err = a.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("scratch-one"), Key: aws.String("x")})
	require.NoError(t, err)
	_, err = a.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("scratch-one")})
	require.NoError(t, err)
	_, err = a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("scratch-one")})
	require.Equal(t, "NotFound", apiCode(t, err))
}

func TestSDKObjects(t *testing.T) {
	l := newLab(t, "")
	ctx := context.Background()
	a := l.roleClient(t, acctA, "app-a")
	bkt := aws.String("bucket-a")

	keys := []string{"dir/a b+c.txt", "dir/ünïcode.txt", "dir//double", "dir/sub/1", "dir/sub/2", "other"}
	for _, k := range keys {
		_, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String(k), Body: strings.NewReader("data of " + k),
			ContentType: aws.String("text/plain"), Metadata: map[string]string{"owner": "team-a"}})
		require.NoError(t, err, k)
	}
	for _, k := range keys {
		out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String(k)})
		require.Equal(t, "data of "+k, readAll(t, out, err), k)
		require.Equal(t, "text/plain", aws.ToString(out.ContentType))
		require.Equal(t, "team-a", out.Metadata["owner"])
	}
	_, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("dir/a b c.txt")})
	require.Equal(t, "NoSuchKey", apiCode(t, err), "'+' is not a space")

	// Checksums: the SDK sends one and validates it on GET.
	put, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("sum"), Body: strings.NewReader("checksummed"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	require.NoError(t, err)
	require.NotEmpty(t, aws.ToString(put.ChecksumSHA256))
	got, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("sum"), ChecksumMode: types.ChecksumModeEnabled})
	require.Equal(t, "checksummed", readAll(t, got, err))
	require.Equal(t, aws.ToString(put.ChecksumSHA256), aws.ToString(got.ChecksumSHA256))
	_, err = a.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("md5"), Body: strings.NewReader("x"),
		ContentMD5: aws.String("1B2M2Y8AsgTpgAmY7PhCfg==")})
	require.Equal(t, "BadDigest", apiCode(t, err))
	_, err = a.PutObject(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("md5"), Body: strings.NewReader("x"), ContentMD5: aws.String("nope")})
	require.Equal(t, "InvalidDigest", apiCode(t, err))

	// Head, ranges, conditionals.
	head, err := a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bkt, Key: aws.String("other")})
	require.NoError(t, err)
	require.Equal(t, int64(len("data of other")), aws.ToInt64(head.ContentLength))
	require.Equal(t, `"`, aws.ToString(head.ETag)[:1])
	for _, tc := range []struct{ rng, want, contentRange string }{
		{"bytes=0-3", "data", "bytes 0-3/13"},
		{"bytes=8-", "other", "bytes 8-12/13"},
		{"bytes=-5", "other", "bytes 8-12/13"},
		{"bytes=8-100", "other", "bytes 8-12/13"},
	} {
		out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("other"), Range: aws.String(tc.rng)})
		require.Equal(t, tc.want, readAll(t, out, err), tc.rng)
		require.Equal(t, tc.contentRange, aws.ToString(out.ContentRange), tc.rng)
	}
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("other"), Range: aws.String("bytes=100-")})
	require.Equal(t, "InvalidRange", apiCode(t, err))
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("other"), IfNoneMatch: head.ETag})
	require.Equal(t, "NotModified", apiCode(t, err))
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("other"), IfMatch: aws.String(`"0000"`)})
	require.Equal(t, "PreconditionFailed", apiCode(t, err))
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("other"), IfModifiedSince: aws.Time(time.Now().Add(time.Hour))})
	require.Equal(t, "NotModified", apiCode(t, err))
	_, err = a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bkt, Key: aws.String("missing")})
	require.Equal(t, "NotFound", apiCode(t, err))

	// Listing.
	v2, err := a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bkt, Prefix: aws.String("dir/"), Delimiter: aws.String("/")})
	require.NoError(t, err)
	var got2 []string
	for _, o := range v2.Contents {
		got2 = append(got2, aws.ToString(o.Key))
	}
	require.Equal(t, []string{"dir/a b+c.txt", "dir/ünïcode.txt"}, got2)
	require.Len(t, v2.CommonPrefixes, 2)
	require.Equal(t, "dir//", aws.ToString(v2.CommonPrefixes[0].Prefix))
	require.Equal(t, "dir/sub/", aws.ToString(v2.CommonPrefixes[1].Prefix))
	require.Equal(t, int32(4), aws.ToInt32(v2.KeyCount))

	var paged []string
	p := s3.NewListObjectsV2Paginator(a, &s3.ListObjectsV2Input{Bucket: bkt, MaxKeys: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Contents), 2)
		for _, o := range page.Contents {
			paged = append(paged, aws.ToString(o.Key))
		}
	}
	require.Equal(t, []string{"dir//double", "dir/a b+c.txt", "dir/sub/1", "dir/sub/2", "dir/ünïcode.txt", "hello.txt", "other", "secret/key.txt", "sum"}, paged)
	sa, err := a.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bkt, StartAfter: aws.String("other"), EncodingType: types.EncodingTypeUrl})
	require.NoError(t, err)
	require.Len(t, sa.Contents, 2)
	v1, err := a.ListObjects(ctx, &s3.ListObjectsInput{Bucket: bkt, Marker: aws.String("dir/sub/2"), MaxKeys: aws.Int32(2)})
	require.NoError(t, err)
	require.True(t, aws.ToBool(v1.IsTruncated))
	require.Equal(t, "dir/ünïcode.txt", aws.ToString(v1.Contents[0].Key))

	// Copy.
	_, err = a.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("copy/1"), CopySource: aws.String("bucket-a/dir/a%20b%2Bc.txt")})
	require.NoError(t, err)
	out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("copy/1")})
	require.Equal(t, "data of dir/a b+c.txt", readAll(t, out, err))
	require.Equal(t, "team-a", out.Metadata["owner"])
	_, err = a.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("copy/1"), CopySource: aws.String("bucket-a/copy/1"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"owner": "new"}, ContentType: aws.String("text/csv")})
	require.NoError(t, err)
	h2, err := a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bkt, Key: aws.String("copy/1")})
	require.NoError(t, err)
	require.Equal(t, "new", h2.Metadata["owner"])
	require.Equal(t, "text/csv", aws.ToString(h2.ContentType))
	_, err = a.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("copy/1"), CopySource: aws.String("bucket-a/copy/1")})
	require.Equal(t, "InvalidRequest", apiCode(t, err))
	_, err = a.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("copy/2"), CopySource: aws.String("bucket-a/nope")})
	require.Equal(t, "NoSuchKey", apiCode(t, err))

	// Delete one, then several.
	_, err = a.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bkt, Key: aws.String("copy/1")})
	require.NoError(t, err)
	_, err = a.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bkt, Key: aws.String("copy/1")})
	require.NoError(t, err, "DeleteObject is idempotent")
	del, err := a.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: bkt, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("dir/sub/1")}, {Key: aws.String("dir/sub/2")}, {Key: aws.String("never-existed")}}}})
	require.NoError(t, err)
	require.Len(t, del.Deleted, 3)
	require.Empty(t, del.Errors)
	_, err = a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bkt, Key: aws.String("dir/sub/1")})
	require.Equal(t, "NotFound", apiCode(t, err))
}

func TestSDKMultipart(t *testing.T) {
	l := newLab(t, "")
	ctx := context.Background()
	a := l.roleClient(t, acctA, "app-a")
	bkt := aws.String("bucket-a")

	big := make([]byte, 11<<20+123)
	_, _ = rand.Read(big)
	up := manager.NewUploader(a, func(u *manager.Uploader) { u.PartSize = 5 << 20; u.Concurrency = 2 })
	res, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: bkt, Key: aws.String("big/blob.bin"), Body: bytes.NewReader(big)})
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(aws.ToString(res.ETag), `-3"`), "multipart ETag %s", aws.ToString(res.ETag))
	out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("big/blob.bin")})
	require.Equal(t, string(big), readAll(t, out, err))
	data, err := l.srv.Handler().GetObject(ctx, "bucket-a", "big/blob.bin")
	require.NoError(t, err)
	require.Equal(t, big, data)

	// By hand: part rules, listing, abort.
	cr, err := a.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: aws.String("mp")})
	require.NoError(t, err)
	id := cr.UploadId
	var etags []string
	for n, body := range []string{"small part one", "small part two"} {
		p, err := a.UploadPart(ctx, &s3.UploadPartInput{Bucket: bkt, Key: aws.String("mp"), UploadId: id, PartNumber: aws.Int32(int32(n + 1)), Body: strings.NewReader(body)})
		require.NoError(t, err)
		etags = append(etags, aws.ToString(p.ETag))
	}
	lp, err := a.ListParts(ctx, &s3.ListPartsInput{Bucket: bkt, Key: aws.String("mp"), UploadId: id})
	require.NoError(t, err)
	require.Len(t, lp.Parts, 2)
	lu, err := a.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bkt})
	require.NoError(t, err)
	require.Len(t, lu.Uploads, 1)
	complete := func(parts ...types.CompletedPart) error {
		_, err := a.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bkt, Key: aws.String("mp"), UploadId: id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		return err
	}
	part := func(n int32, etag string) types.CompletedPart {
		return types.CompletedPart{PartNumber: aws.Int32(n), ETag: aws.String(etag)}
	}
	require.Equal(t, "InvalidPartOrder", apiCode(t, complete(part(2, etags[1]), part(1, etags[0]))))
	require.Equal(t, "InvalidPart", apiCode(t, complete(part(1, etags[0]), part(2, `"00000000000000000000000000000000"`))))
	require.Equal(t, "EntityTooSmall", apiCode(t, complete(part(1, etags[0]), part(2, etags[1]))))
	require.NoError(t, complete(part(2, etags[1])), "a single (last) part may be small")
	out, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: bkt, Key: aws.String("mp")})
	require.Equal(t, "small part two", readAll(t, out, err))
	require.Equal(t, "NoSuchUpload", apiCode(t, complete(part(2, etags[1]))))

	cr, err = a.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bkt, Key: aws.String("aborted")})
	require.NoError(t, err)
	_, err = a.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bkt, Key: aws.String("aborted"), UploadId: cr.UploadId})
	require.NoError(t, err)
	_, err = a.UploadPart(ctx, &s3.UploadPartInput{Bucket: bkt, Key: aws.String("aborted"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	require.Equal(t, "NoSuchUpload", apiCode(t, err))
}

func TestSDKVirtualHost(t *testing.T) {
	l := newLab(t, "")
	ctx := context.Background()
	c := l.virtualHostClient(l.session(t, roleARN(acctA, "app-a"), time.Hour))
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket-a"), Key: aws.String("vh/key with space"), Body: strings.NewReader("virtual")})
	require.NoError(t, err)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket-a"), Key: aws.String("vh/key with space")})
	require.Equal(t, "virtual", readAll(t, out, err))
	lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bucket-a"), Prefix: aws.String("vh/")})
	require.NoError(t, err)
	require.Len(t, lo.Contents, 1)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket-b"), Key: aws.String("b.txt")})
	require.Equal(t, "AccessDenied", apiCode(t, err))
}

// TestAdminPathsAreS3 shows the admin API's paths are plain S3 on the
// server's URL: _idlab/... is a key in both addressing styles, and
// path-style /_idlab/s3/buckets addresses a bucket named _idlab.
func TestAdminPathsAreS3(t *testing.T) {
	l := newLab(t, "")
	ctx := context.Background()
	creds := l.session(t, roleARN(acctA, "app-a"), time.Hour)
	for name, c := range map[string]*s3.Client{"path-style": l.client(creds), "virtual-hosted": l.virtualHostClient(creds)} {
		t.Run(name, func(t *testing.T) {
			key := aws.String("_idlab/s3/buckets")
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket-a"), Key: key, Body: strings.NewReader(name)})
			require.NoError(t, err)
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket-a"), Key: key})
			require.Equal(t, name, readAll(t, out, err))
		})
	}
	resp, err := l.srv.Client().Get(l.srv.URL() + awss3.AdminPrefix + "/buckets")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, string(body))
	require.Contains(t, string(body), "<Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>_idlab</BucketName>")
}

func TestSDKUnknownSubresource(t *testing.T) {
	l := newLab(t, "")
	ctx := context.Background()
	a := l.roleClient(t, acctA, "app-a")
	_, err := a.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("bucket-a")})
	require.Equal(t, "NotImplemented", apiCode(t, err))
}
