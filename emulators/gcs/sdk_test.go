package gcs_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/emulators/gcs"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/clock"
)

const (
	reader = "reader@idlab.iam.gserviceaccount.com"
	admin  = "storage-admin@idlab.iam.gserviceaccount.com"
)

const fixture = `projects:
  - id: idlab
    number: "123456789012"
    serviceAccounts: [{id: reader}, {id: storage-admin}]
    bindings:
      - {resource: projects/_/buckets/team-a-data, role: roles/storage.objectViewer, members: ["serviceAccount:reader@idlab.iam.gserviceaccount.com"]}
      - {resource: projects/_/buckets/team-a-data, role: roles/storage.objectAdmin, members: ["serviceAccount:storage-admin@idlab.iam.gserviceaccount.com"]}
      - {resource: projects/_/buckets/public-data, role: roles/storage.objectViewer, members: [allUsers]}
`

type lab struct {
	clk *clock.Clock
	iam *gcpiam.Handler
	srv *gcs.Server
}

func newLab(t *testing.T, dataDir string) *lab {
	t.Helper()
	ca, err := certs.NewCA("gcs test")
	require.NoError(t, err)
	clk := clock.New(nil)
	iam, err := gcpiam.New(gcpiam.Options{Now: clk.Now})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtureYAML("f.yaml", []byte(fixture)))
	srv, err := gcs.NewServer(gcs.Options{IAM: iam, CA: ca, Now: clk.Now, DataDir: dataDir})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	for _, b := range []string{"team-a-data", "team-b-data", "public-data"} {
		require.NoError(t, srv.Handler().CreateBucket(ctx, "idlab", b))
		require.NoError(t, srv.Handler().PutObject(ctx, b, "hello.txt", []byte("hello from "+b), "text/plain"))
	}
	return &lab{clk: clk, iam: iam, srv: srv}
}

// client is the unmodified storage client acting as email ("" = no token).
func (l *lab) client(t *testing.T, email string) *storage.Client {
	t.Helper()
	hc := l.srv.Client()
	if email != "" {
		tok, _, err := l.iam.MintAccessToken(context.Background(), email, nil, 0)
		require.NoError(t, err)
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, l.srv.Client())
		hc = oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"}))
	}
	c, err := storage.NewClient(context.Background(), option.WithEndpoint(l.srv.URL()+"/storage/v1/"), option.WithHTTPClient(hc))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func read(c *storage.Client, bucket, name string) (string, error) {
	r, err := c.Bucket(bucket).Object(name).NewReader(context.Background())
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

func write(c *storage.Client, bucket, name, data string) error {
	w := c.Bucket(bucket).Object(name).NewWriter(context.Background())
	w.ContentType = "text/plain"
	if _, err := io.WriteString(w, data); err != nil {
		return err
	}
	return w.Close()
}

func list(c *storage.Client, bucket string) ([]string, error) {
	var names []string
	it := c.Bucket(bucket).Objects(context.Background(), nil)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		names = append(names, a.Name)
	}
}

func requireAPIError(t *testing.T, err error, code int, msg string) {
	t.Helper()
	var ge *googleapi.Error
	require.True(t, errors.As(err, &ge), "%v", err)
	require.Equal(t, code, ge.Code, ge.Body)
	if msg != "" {
		require.Contains(t, ge.Message+html.UnescapeString(ge.Body), msg)
	}
}

func denial(perm, noun string) string {
	return reader + " does not have " + perm + " access to the Google Cloud Storage " + noun + ". Permission '" + perm + "' denied on resource (or it may not exist)."
}

func TestReaderWithStorageClient(t *testing.T) {
	l := newLab(t, "")
	c := l.client(t, reader)

	got, err := read(c, "team-a-data", "hello.txt")
	require.NoError(t, err)
	require.Equal(t, "hello from team-a-data", got)
	names, err := list(c, "team-a-data")
	require.NoError(t, err)
	require.Equal(t, []string{"hello.txt"}, names)
	attrs, err := c.Bucket("team-a-data").Object("hello.txt").Attrs(context.Background())
	require.NoError(t, err)
	require.Equal(t, "text/plain", attrs.ContentType)

	tests := []struct {
		name   string
		do     func() error
		code   int
		msg    string
		perm   string
		bucket string
	}{
		{"write own bucket", func() error { return write(c, "team-a-data", "x.txt", "x") }, 403, denial("storage.objects.create", "object"), "storage.objects.create", "team-a-data"},
		{"delete own bucket", func() error { return c.Bucket("team-a-data").Object("hello.txt").Delete(context.Background()) }, 403, denial("storage.objects.delete", "object"), "storage.objects.delete", "team-a-data"},
		{"read other bucket", func() error { _, err := read(c, "team-b-data", "hello.txt"); return err }, 403, denial("storage.objects.get", "object"), "storage.objects.get", "team-b-data"},
		{"list other bucket", func() error { _, err := list(c, "team-b-data"); return err }, 403, denial("storage.objects.list", "bucket"), "storage.objects.list", "team-b-data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireAPIError(t, tc.do(), tc.code, tc.msg)
			ds := l.iam.Decisions()
			d := ds[len(ds)-1]
			require.False(t, d.Allowed())
			require.Equal(t, "serviceAccount:"+reader, d.Principal)
			require.Equal(t, tc.perm, d.Action)
			require.Equal(t, "projects/_/buckets/"+tc.bucket, d.Resource)
		})
	}
}

func TestAuthentication(t *testing.T) {
	l := newLab(t, "")
	anon := l.client(t, "")
	_, err := read(anon, "team-a-data", "hello.txt")
	requireAPIError(t, err, http.StatusUnauthorized, "Anonymous caller does not have storage.objects.get access to the Google Cloud Storage object.")
	_, err = list(anon, "team-a-data")
	requireAPIError(t, err, http.StatusUnauthorized, "Anonymous caller does not have storage.objects.list access to the Google Cloud Storage bucket. Permission 'storage.objects.list' denied on resource (or it may not exist).")
	d := l.iam.Decisions()[len(l.iam.Decisions())-1]
	require.Equal(t, "anonymous", d.Principal)
	require.False(t, d.Allowed())

	// allUsers makes a bucket public.
	got, err := read(anon, "public-data", "hello.txt")
	require.NoError(t, err)
	require.Equal(t, "hello from public-data", got)

	// An expired token is refused with Invalid Credentials.
	c := l.client(t, reader)
	_, err = read(c, "team-a-data", "hello.txt")
	require.NoError(t, err)
	l.clk.Advance(time.Hour + time.Minute)
	_, err = read(c, "team-a-data", "hello.txt")
	requireAPIError(t, err, http.StatusUnauthorized, "")
	_, err = list(c, "team-a-data")
	requireAPIError(t, err, http.StatusUnauthorized, "Invalid Credentials")
	d = l.iam.Decisions()[len(l.iam.Decisions())-1]
	require.False(t, d.Allowed())
	require.Contains(t, d.Reason, "Invalid Credentials")
}

func TestObjectAdminWritesAndDeletes(t *testing.T) {
	l := newLab(t, "")
	c := l.client(t, admin)
	require.NoError(t, write(c, "team-a-data", "dir/new.txt", "new data"))
	got, err := read(c, "team-a-data", "dir/new.txt")
	require.NoError(t, err)
	require.Equal(t, "new data", got)
	// The reader sees it too.
	got, err = read(l.client(t, reader), "team-a-data", "dir/new.txt")
	require.NoError(t, err)
	require.Equal(t, "new data", got)
	require.NoError(t, c.Bucket("team-a-data").Object("dir/new.txt").Delete(context.Background()))
	_, err = read(c, "team-a-data", "dir/new.txt")
	require.ErrorIs(t, err, storage.ErrObjectNotExist)
	// objectAdmin is not bucket admin, and is nothing on another bucket.
	requireAPIError(t, write(c, "team-b-data", "x", "x"), 403, "")
	_, err = c.Bucket("team-a-data").Attrs(context.Background())
	requireAPIError(t, err, 403, "does not have storage.buckets.get access to the Google Cloud Storage bucket.")
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	l := newLab(t, dir)
	require.NoError(t, write(l.client(t, admin), "team-a-data", "kept.txt", "kept"))
	l.srv.Close()

	h, err := gcs.New(gcs.Options{IAM: l.iam, DataDir: dir})
	require.NoError(t, err)
	tok, _, err := l.iam.MintAccessToken(context.Background(), reader, nil, 0)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, "https://storage.googleapis.com/team-a-data/kept.txt", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := newRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	require.Equal(t, "kept", rec.Body.String())
}

// TestResumableUpload: a writer with a small ChunkSize uses a resumable
// session; the session PUTs are authorized as storage.objects.create too.
func TestResumableUpload(t *testing.T) {
	l := newLab(t, "")
	data := strings.Repeat("0123456789abcdef", 40<<10) // 640 KiB
	for _, tc := range []struct {
		email string
		code  int
	}{{admin, 0}, {reader, 403}} {
		w := l.client(t, tc.email).Bucket("team-a-data").Object("big.bin").NewWriter(context.Background())
		w.ChunkSize = 256 << 10
		_, err := io.WriteString(w, data)
		if err == nil {
			err = w.Close()
		}
		if tc.code != 0 {
			requireAPIError(t, err, tc.code, "storage.objects.create")
			continue
		}
		require.NoError(t, err)
	}
	got, err := read(l.client(t, reader), "team-a-data", "big.bin")
	require.NoError(t, err)
	require.Equal(t, len(data), len(got))
}
