package cloud

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awss3"
	"github.com/idlab/idlab/internal/atomicfile"
)

// snapshot reads every file under dir that is not one of atomicfile's
// temporary files.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || atomicfile.IsTemp(e.Name()) {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = string(b)
		return err
	}))
	return files
}

// Every store of the composed service removes the temporary files a killed
// process left in its data dir when it opens it, and keeps its real data.
func TestOpenRemovesLeftTemporaryFiles(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DataDir: t.TempDir()}
	c, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, c.S3.CreateBucket(ctx, awss3.BucketSpec{Name: "kept-bucket", Owner: "123456789012", Region: "us-east-1"}))
	require.NoError(t, c.S3.PutObject(ctx, "kept-bucket", "kept.txt", []byte("kept bytes"), "text/plain"))
	require.NoError(t, c.Close(ctx))

	// The S3 bucket's directory: buckets/<h>.
	var bucketDir string
	require.NoError(t, filepath.WalkDir(filepath.Join(cfg.DataDir, "s3"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Name() == "bucket.json" {
			bucketDir = filepath.Dir(p)
		}
		return err
	}))
	require.NotEmpty(t, bucketDir)
	// Not a temporary file of atomicfile's: it stays.
	require.NoError(t, os.WriteFile(filepath.Join(bucketDir, "notes.tmp-1"), []byte("a user's file"), 0o600))
	before := snapshot(t, cfg.DataDir)

	tests := []struct {
		store, dir, name string
	}{
		{"iam", "iam", ".keys.json.tmp-1804289383"},
		{"s3 object log compaction", "s3", ".objects-0000000000000001.snap.tmp-846930886"},
		{"s3 bucket", strings.TrimPrefix(bucketDir, cfg.DataDir+"/"), ".bucket.json.tmp-1681692777"},
		{"sns", "sns", ".state.json.tmp-1714636915"},
		{"eks auth", "eksauth", ".state.json.tmp-1957747793"},
		{"google iam", "gcpiam", ".gcpiam.json.tmp-424238335"},
		{"entra", "entra", ".state.json.tmp-719885386"},
		{"azure blob", "azureblob", ".state.json.tmp-1649760492"},
	}
	for _, tc := range tests {
		p := filepath.Join(cfg.DataDir, tc.dir, tc.name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(`{"half":`), 0o600))
	}

	c, err = New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(ctx) })
	for _, tc := range tests {
		t.Run(tc.store, func(t *testing.T) {
			require.NoFileExists(t, filepath.Join(cfg.DataDir, tc.dir, tc.name))
		})
	}
	require.Equal(t, before, snapshot(t, cfg.DataDir), "real data untouched")
	got, err := c.S3.GetObject(ctx, "kept-bucket", "kept.txt")
	require.NoError(t, err)
	require.Equal(t, "kept bytes", string(got))
}
