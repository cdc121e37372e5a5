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
//	buckets/<sha256(name)>/objects/<h[:2]>/<h>.json        h = sha256(key)
//	buckets/<sha256(name)>/objects/<h[:2]>/<h>.<rand>.data
//	buckets/<sha256(name)>/uploads/<uploadID>/upload.json
//	buckets/<sha256(name)>/uploads/<uploadID>/part-<n>.<rand>.data
//
// Every file is written to a temp file and renamed, and an object's bytes
// go to a fresh file before the metadata naming it, so a killed process
// leaves either the old object or the new one, never half of one. With
// fsync (idlab serve --fsync) every file and its directory are also
// fsynced, for power loss; without, a write costs what the page cache
// does. Metadata is indexed in memory (a memStore with nil data) at open.
type diskStore struct {
	*memStore
	dir  string
	sync bool
	// mu is held for writing by bucket and upload changes, for reading by
	// object changes, which keyMu serializes per key (striped): writes to
	// different keys go to disk side by side.
	mu    sync.RWMutex
	keyMu [64]sync.Mutex
}

// lockKey takes d.mu for reading and the stripe of bucket/key, and
// returns their unlock.
func (d *diskStore) lockKey(bucket, key string) func() {
	d.mu.RLock()
	h := uint32(2166136261) // FNV-1a
	for _, s := range []string{bucket, "/", key} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
	}
	m := &d.keyMu[h%uint32(len(d.keyMu))]
	m.Lock()
	return func() { m.Unlock(); d.mu.RUnlock() }
}

// writeData writes an object's or a part's bytes to a file of a fresh
// name. No temporary file is needed: nothing names the file until the
// metadata written after it does, so a process killed half way leaves an
// unnamed file, never a half object.
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
// loss too.
func NewDiskStore(ctx context.Context, dir string, fsync bool) (Store, error) {
	d := &diskStore{memStore: newMemStore(), dir: dir, sync: fsync}
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

func (d *diskStore) objectDir(bucket, key string) (dir, base string) {
	h := hashName(key)
	return filepath.Join(d.bucketDir(bucket), "objects", h[:2]), h
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
		if err := d.loadObjects(ctx, b.Name, filepath.Join(bdir, "objects")); err != nil {
			return err
		}
		if err := d.loadUploads(ctx, b.Name, filepath.Join(bdir, "uploads")); err != nil {
			return err
		}
	}
	return nil
}

func (d *diskStore) loadObjects(ctx context.Context, bucket, dir string) error {
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".tmp-") {
			return nil
		}
		var o Object
		if err := readJSON(p, &o); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), o.DataFile)); err != nil {
			return fmt.Errorf("%w: %s names missing data %s", ErrCorruptDataStore, p, o.DataFile)
		}
		return d.memStore.PutObject(ctx, bucket, o, nil)
	})
	return err
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

func (d *diskStore) PutObject(ctx context.Context, bucket string, o Object, data []byte) error {
	if _, err := d.memStore.Bucket(ctx, bucket); err != nil {
		return err
	}
	// The bytes go to a file of their own name outside the lock: nothing
	// names it until the metadata below does.
	dir, base := d.objectDir(bucket, o.Key)
	o.DataFile = base + "." + randSuffix() + ".data"
	if err := d.writeData(filepath.Join(dir, o.DataFile), data); err != nil {
		return err
	}
	defer d.lockKey(bucket, o.Key)()
	if _, err := d.memStore.Bucket(ctx, bucket); err != nil {
		_ = os.Remove(filepath.Join(dir, o.DataFile))
		return err
	}
	if err := d.writeJSON(filepath.Join(dir, base+".json"), o); err != nil {
		_ = os.Remove(filepath.Join(dir, o.DataFile))
		return err
	}
	if old, err := d.memStore.Object(ctx, bucket, o.Key); err == nil && old.DataFile != o.DataFile {
		_ = os.Remove(filepath.Join(dir, old.DataFile))
	}
	return d.memStore.PutObject(ctx, bucket, o, nil)
}

func (d *diskStore) ObjectData(_ context.Context, bucket string, o Object) ([]byte, error) {
	dir, _ := d.objectDir(bucket, o.Key)
	b, err := os.ReadFile(filepath.Join(dir, o.DataFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoSuchKey // replaced or deleted since o was read
	}
	return b, err
}

func (d *diskStore) DeleteObject(ctx context.Context, bucket, key string) error {
	defer d.lockKey(bucket, key)()
	o, err := d.memStore.Object(ctx, bucket, key)
	if errors.Is(err, ErrNoSuchKey) {
		return nil
	}
	if err != nil {
		return err
	}
	dir, base := d.objectDir(bucket, key)
	if err := os.Remove(filepath.Join(dir, base+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete object %q: %w", key, err)
	}
	_ = os.Remove(filepath.Join(dir, o.DataFile))
	return d.memStore.DeleteObject(ctx, bucket, key)
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
