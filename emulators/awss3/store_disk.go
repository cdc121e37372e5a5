package awss3

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/idlab/idlab/internal/atomicfile"
)

// diskStore persists buckets, objects and uploads under a directory:
//
//	buckets/<sha256(name)>/bucket.json
//	buckets/<sha256(name)>/uploads/<uploadID>/upload.json
//	buckets/<sha256(name)>/uploads/<uploadID>/part-<n>.<rand>.data
//	objects-<N>.log, objects-<N>.snap   every object, in a log (objlog.go)
//
// Buckets and uploads are files written to a temporary name and renamed;
// a part's bytes go to a fresh file before the upload's metadata names it.
// Objects are records appended to a log, each written before its call
// answers. A killed process therefore leaves either the old state or the
// new, never half of one. With fsync (idlab serve --fsync) every file,
// append and directory is also fsynced, for power loss; without, a write
// costs what the page cache does. Metadata is indexed in memory (a
// memStore with nil data, each Object pointing at its record) at open.
type diskStore struct {
	*memStore
	dir  string
	sync bool
	log  *slog.Logger
	// mu is held for writing by bucket and upload changes, for reading by
	// object changes, which lmu serializes.
	mu sync.RWMutex

	// lmu orders appends, and the index changes that go with them, and
	// guards the log's state below.
	lmu        sync.Mutex
	w          *logFile   // the live segment; nil until its first append
	wOff       int64      // its length
	seg        int64      // its number
	files      []*logFile // every log file open for reading
	live       int64      // bytes of the records of live objects
	total      int64      // bytes of every record in the files
	version    uint64     // the last objLoc.ver given out
	compactMin int64      // compactMinBytes; tests lower it
	compacting bool
	closed     bool
	wg         sync.WaitGroup
}

// writeData writes a part's bytes to a file of a fresh name. No
// temporary file is needed: nothing names the file until the metadata
// written after it does, so a process killed half way leaves an unnamed
// file, never a half part.
func (d *diskStore) writeData(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil && d.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// NewDiskStore opens (creating if needed) a Store under dir and loads what
// an earlier run left there. fsync makes every write durable against power
// loss too. log (nil: discard) gets what a background compaction of the
// object log could not do.
func NewDiskStore(ctx context.Context, dir string, fsync bool, log *slog.Logger) (Store, error) {
	return openDiskStore(ctx, dir, fsync, log, compactMinBytes)
}

// openDiskStore is NewDiskStore compacting the object log past compactMin
// dead bytes.
func openDiskStore(ctx context.Context, dir string, fsync bool, log *slog.Logger, compactMin int64) (*diskStore, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &diskStore{memStore: newMemStore(), dir: dir, sync: fsync, log: log, compactMin: compactMin}
	if err := os.MkdirAll(filepath.Join(dir, "buckets"), 0o755); err != nil {
		return nil, fmt.Errorf("s3 store: %w", err)
	}
	if err := atomicfile.RemoveTemp(dir); err != nil {
		return nil, fmt.Errorf("s3 store: %w", err)
	}
	if err := d.load(ctx); err != nil {
		return nil, fmt.Errorf("s3 store %s: %w", dir, err)
	}
	return d, nil
}

func hashName(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func randSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (d *diskStore) bucketDir(name string) string {
	return filepath.Join(d.dir, "buckets", hashName(name))
}

func (d *diskStore) uploadDir(bucket, id string) string {
	return filepath.Join(d.bucketDir(bucket), "uploads", id)
}

func (d *diskStore) writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return atomicfile.WriteSync(path, b, 0o644, d.sync)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCorruptDataStore, path, err)
	}
	return nil
}

func (d *diskStore) load(ctx context.Context) error {
	entries, err := os.ReadDir(filepath.Join(d.dir, "buckets"))
	if err != nil {
		return err
	}
	var legacy []legacyDir
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		bdir := filepath.Join(d.dir, "buckets", e.Name())
		var b Bucket
		if err := readJSON(filepath.Join(bdir, "bucket.json"), &b); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// A delete that crashed half-way: finish it.
				_ = os.RemoveAll(bdir)
				continue
			}
			return err
		}
		if err := d.memStore.CreateBucket(ctx, b); err != nil {
			return err
		}
		if err := d.loadUploads(ctx, b.Name, filepath.Join(bdir, "uploads")); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(bdir, "objects")); err == nil {
			legacy = append(legacy, legacyDir{bucket: b.Name, dir: filepath.Join(bdir, "objects")})
		}
	}
	if err := d.openLog(); err != nil {
		return err
	}
	for _, l := range legacy {
		if err := d.migrate(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

// legacyDir is a bucket's objects directory of the layout before the log:
// objects/<h[:2]>/<h>.json naming <h>.<rand>.data beside it.
type legacyDir struct{ bucket, dir string }

// migrate appends every object of a legacy directory to the log and
// deletes the directory. Killed half way, the next open appends the rest
// (an object appended twice is the same object).
func (d *diskStore) migrate(ctx context.Context, l legacyDir) error {
	err := filepath.WalkDir(l.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			return nil
		}
		var o Object
		if err := readJSON(p, &o); err != nil {
			return err
		}
		data, err := os.ReadFile(filepath.Join(filepath.Dir(p), o.DataFile))
		if err != nil {
			return fmt.Errorf("%w: %s names missing data %s", ErrCorruptDataStore, p, o.DataFile)
		}
		o.DataFile = ""
		return d.PutObject(ctx, l.bucket, o, data)
	})
	if err != nil {
		return fmt.Errorf("move %s into the object log: %w", l.dir, err)
	}
	return os.RemoveAll(l.dir)
}

func (d *diskStore) loadUploads(ctx context.Context, bucket, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		udir := filepath.Join(dir, e.Name())
		var u Upload
		if err := readJSON(filepath.Join(udir, "upload.json"), &u); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				_ = os.RemoveAll(udir)
				continue
			}
			return err
		}
		if err := d.memStore.CreateUpload(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

func (d *diskStore) CreateBucket(ctx context.Context, b Bucket) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.memStore.Bucket(ctx, b.Name); err == nil {
		return ErrBucketExists
	}
	if err := d.writeJSON(filepath.Join(d.bucketDir(b.Name), "bucket.json"), b); err != nil {
		return err
	}
	return d.memStore.CreateBucket(ctx, b)
}

func (d *diskStore) DeleteBucket(ctx context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.memStore.mu.RLock()
	err := d.memStore.emptyLocked(name)
	d.memStore.mu.RUnlock()
	if err != nil {
		return err
	}
	dir := d.bucketDir(name)
	if err := os.Remove(filepath.Join(dir, "bucket.json")); err != nil {
		return fmt.Errorf("delete bucket %q: %w", name, err)
	}
	_ = os.RemoveAll(dir)
	return d.memStore.DeleteBucket(ctx, name)
}

func (d *diskStore) SetBucketPolicy(ctx context.Context, name string, policy []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, err := d.memStore.Bucket(ctx, name)
	if err != nil {
		return err
	}
	b.Policy = policy
	if err := d.writeJSON(filepath.Join(d.bucketDir(name), "bucket.json"), b); err != nil {
		return err
	}
	return d.memStore.SetBucketPolicy(ctx, name, policy)
}

func (d *diskStore) CreateUpload(ctx context.Context, u Upload) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.memStore.Bucket(ctx, u.Bucket); err != nil {
		return err
	}
	if err := d.writeJSON(filepath.Join(d.uploadDir(u.Bucket, u.ID), "upload.json"), u); err != nil {
		return err
	}
	return d.memStore.CreateUpload(ctx, u)
}

func (d *diskStore) PutPart(ctx context.Context, bucket, id string, p Part, data []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, err := d.memStore.Upload(ctx, bucket, id)
	if err != nil {
		return err
	}
	dir := d.uploadDir(bucket, id)
	p.DataFile = "part-" + strconv.Itoa(p.Number) + "." + randSuffix() + ".data"
	if err := d.writeData(filepath.Join(dir, p.DataFile), data); err != nil {
		return err
	}
	old, hadOld := u.Parts[p.Number]
	if u.Parts == nil {
		u.Parts = map[int]Part{}
	}
	u.Parts[p.Number] = p
	if err := d.writeJSON(filepath.Join(dir, "upload.json"), u); err != nil {
		_ = os.Remove(filepath.Join(dir, p.DataFile))
		return err
	}
	if hadOld {
		_ = os.Remove(filepath.Join(dir, old.DataFile))
	}
	return d.memStore.PutPart(ctx, bucket, id, p, nil)
}

func (d *diskStore) PartData(ctx context.Context, bucket, id string, p Part) ([]byte, error) {
	if _, err := d.memStore.Upload(ctx, bucket, id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(d.uploadDir(bucket, id), p.DataFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoSuchPart
	}
	return b, err
}

func (d *diskStore) DeleteUpload(ctx context.Context, bucket, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.memStore.Upload(ctx, bucket, id); err != nil {
		return err
	}
	dir := d.uploadDir(bucket, id)
	if err := os.Remove(filepath.Join(dir, "upload.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete upload %q: %w", id, err)
	}
	_ = os.RemoveAll(dir)
	return d.memStore.DeleteUpload(ctx, bucket, id)
}
