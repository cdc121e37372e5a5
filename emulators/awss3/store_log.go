package awss3

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/idlab/idlab/internal/atomicfile"
)

// The disk store's objects, in the log of objlog.go.

// openLog loads the newest snapshot and the segments after it into the
// index (the buckets are loaded already) and moves on to a new segment.
func (d *diskStore) openLog() error {
	snap, segs, highest, err := logDir(d.dir)
	if err != nil {
		return err
	}
	if snap >= 0 {
		if err := d.loadLogFile(snap, true); err != nil {
			return err
		}
	}
	for _, n := range segs {
		if err := d.loadLogFile(n, false); err != nil {
			return err
		}
	}
	if snap >= 0 {
		// A compaction killed before its deletes.
		if err := removeLogBefore(d.dir, snap); err != nil {
			return err
		}
	}
	d.seg = highest + 1
	d.lmu.Lock()
	defer d.lmu.Unlock()
	d.maybeCompactLocked()
	return nil
}

// loadLogFile applies one snapshot or segment to the index and keeps it
// open for reading.
func (d *diskStore) loadLogFile(n int64, snap bool) error {
	lf := &logFile{n: n, snap: snap}
	path := filepath.Join(d.dir, lf.name())
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	lf.f = f
	err = scanLog(f, func(r scanRecord) error {
		d.applyLoaded(lf, r)
		return nil
	})
	if errors.Is(err, errTornRecord) {
		d.log.Warn("s3 object log: ignoring a record a killed process left half written", "file", path, "err", err)
		err = nil
	}
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("s3 object log %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	d.total += st.Size()
	d.files = append(d.files, lf)
	return nil
}

// applyLoaded applies a record read at open: a later record of a key
// replaces an earlier one; records of buckets that no longer exist are
// dead.
func (d *diskStore) applyLoaded(lf *logFile, r scanRecord) {
	m := d.memStore
	b, ok := m.buckets[r.meta.Bucket]
	if !ok {
		return
	}
	key := r.meta.Key
	if r.meta.Op == opPut {
		key = r.meta.Object.Key
	}
	if old, ok := b.objects[key]; ok && old.loc != nil {
		d.live -= old.loc.recLen
	}
	if r.meta.Op == opDelete {
		delete(b.objects, key)
		return
	}
	d.version++
	o := *r.meta.Object
	o.loc = &objLoc{file: lf, off: r.off, dataOff: r.dataOff, recLen: r.recLen, ver: d.version}
	b.objects[key] = o
	d.live += r.recLen
}

// appendLocked writes one record to the live segment, creating it first
// if needed, and returns where it lies. d.lmu must be held.
func (d *diskStore) appendLocked(head []byte, metaLen int, data []byte, whole bool) (*objLoc, error) {
	if d.closed {
		return nil, errors.New("s3 object log: closed")
	}
	if d.w == nil {
		lf := &logFile{n: d.seg}
		f, err := os.OpenFile(filepath.Join(d.dir, lf.name()), os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("s3 object log: %w", err)
		}
		if d.sync {
			atomicfile.SyncDir(d.dir)
		}
		lf.f = f
		d.w, d.wOff = lf, 0
		d.files = append(d.files, lf)
	}
	recLen := int64(len(head))
	_, err := d.w.f.Write(head)
	if !whole && err == nil {
		recLen += int64(len(data)) + 4
		if _, err = d.w.f.Write(data); err == nil {
			_, err = d.w.f.Write(binary.BigEndian.AppendUint32(nil, crc32.Checksum(data, castagnoli)))
		}
	}
	if err == nil && d.sync {
		err = d.w.f.Sync()
	}
	if err != nil {
		// What was written is a torn last record: the segment takes no
		// more, and the next append starts another.
		d.w, d.seg = nil, d.seg+1
		return nil, fmt.Errorf("s3 object log: %w", err)
	}
	off := d.wOff
	d.wOff += recLen
	d.total += recLen
	d.version++
	return &objLoc{file: d.w, off: off, dataOff: off + headerSize + int64(metaLen), recLen: recLen, ver: d.version}, nil
}

func (d *diskStore) PutObject(ctx context.Context, bucket string, o Object, data []byte) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if _, err := d.memStore.Bucket(ctx, bucket); err != nil {
		return err
	}
	o.DataFile, o.loc = "", nil
	head, metaLen, whole, err := encodeObjRecord(recordMeta{Op: opPut, Bucket: bucket, Object: &o}, data)
	if err != nil {
		return err
	}
	d.lmu.Lock()
	defer d.lmu.Unlock()
	loc, err := d.appendLocked(head, metaLen, data, whole)
	releaseRecord(head)
	if err != nil {
		return err
	}
	o.loc = loc
	if old, err := d.memStore.Object(ctx, bucket, o.Key); err == nil && old.loc != nil {
		d.live -= old.loc.recLen
	}
	if err := d.memStore.PutObject(ctx, bucket, o, nil); err != nil {
		return err
	}
	d.live += loc.recLen
	d.maybeCompactLocked()
	return nil
}

// ObjectData reads o's bytes from its record. A compaction may have moved
// the record since o was read: the object is then looked up again, and
// ErrNoSuchKey means it was replaced or deleted in the meantime.
func (d *diskStore) ObjectData(ctx context.Context, bucket string, o Object) ([]byte, error) {
	for range 3 {
		loc := o.loc
		if loc == nil {
			return nil, ErrNoSuchKey
		}
		buf := make([]byte, o.Size)
		_, err := loc.file.f.ReadAt(buf, loc.dataOff)
		if err == nil {
			return buf, nil
		}
		if !errors.Is(err, os.ErrClosed) {
			return nil, fmt.Errorf("read object %q: %w", o.Key, err)
		}
		cur, err := d.memStore.Object(ctx, bucket, o.Key)
		if err != nil || cur.loc == nil || cur.loc.ver != loc.ver {
			return nil, ErrNoSuchKey
		}
		o = cur
	}
	return nil, errors.New("s3 object log: closed")
}

func (d *diskStore) DeleteObject(ctx context.Context, bucket, key string) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	d.lmu.Lock()
	defer d.lmu.Unlock()
	old, err := d.memStore.Object(ctx, bucket, key)
	if errors.Is(err, ErrNoSuchKey) {
		return nil
	}
	if err != nil {
		return err
	}
	head, metaLen, whole, err := encodeObjRecord(recordMeta{Op: opDelete, Bucket: bucket, Key: key}, nil)
	if err != nil {
		return err
	}
	if _, err := d.appendLocked(head, metaLen, nil, whole); err != nil {
		return fmt.Errorf("delete object %q: %w", key, err)
	}
	if old.loc != nil {
		d.live -= old.loc.recLen
	}
	if err := d.memStore.DeleteObject(ctx, bucket, key); err != nil {
		return err
	}
	d.maybeCompactLocked()
	return nil
}

// liveRecord is an object whose record a compaction copies.
type liveRecord struct {
	bucket, key string
	loc         *objLoc
}

// maybeCompactLocked starts a compaction when the files hold as many dead
// bytes as live ones, and at least compactMinBytes. d.lmu must be held.
func (d *diskStore) maybeCompactLocked() {
	dead := d.total - d.live
	if d.compacting || d.closed || dead < d.compactMin || dead < d.live {
		return
	}
	upTo := d.seg
	d.w, d.seg = nil, d.seg+1
	var recs []liveRecord
	d.memStore.mu.RLock()
	for name, b := range d.memStore.buckets {
		for key, o := range b.objects {
			if o.loc != nil {
				recs = append(recs, liveRecord{bucket: name, key: key, loc: o.loc})
			}
		}
	}
	d.memStore.mu.RUnlock()
	old := d.files
	d.files = nil
	d.compacting = true
	d.total = d.live // once the snapshot lands; counted now so that this stays quiet
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.compact(upTo, recs, old); err != nil {
			d.log.Error("s3 object log: compaction", "err", err)
		}
	}()
}

// compact copies recs into snapshot upTo, points the index at the copies
// of the records still live, and deletes and closes the files replaced.
func (d *diskStore) compact(upTo int64, recs []liveRecord, old []*logFile) error {
	snap := &logFile{n: upTo, snap: true}
	path := filepath.Join(d.dir, snap.name())
	locs := make([]objLoc, len(recs))
	err := atomicfile.WriteFunc(path, 0o644, d.sync, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		var off int64
		for i, r := range recs {
			n, err := io.Copy(bw, io.NewSectionReader(r.loc.file.f, r.loc.off, r.loc.recLen))
			if err != nil {
				return err
			}
			locs[i] = objLoc{file: snap, off: off, dataOff: off + r.loc.dataOff - r.loc.off, recLen: r.loc.recLen, ver: r.loc.ver}
			off += n
		}
		return bw.Flush()
	})
	if err == nil {
		snap.f, err = os.Open(path)
	}
	d.lmu.Lock()
	d.compacting = false
	if err != nil {
		d.files = append(old, d.files...)
		d.lmu.Unlock()
		return err
	}
	d.memStore.mu.Lock()
	for i, r := range recs {
		if b, ok := d.memStore.buckets[r.bucket]; ok {
			if o, ok := b.objects[r.key]; ok && o.loc == r.loc {
				o.loc = &locs[i]
				b.objects[r.key] = o
			}
		}
	}
	d.memStore.mu.Unlock()
	d.files = append([]*logFile{snap}, d.files...)
	d.lmu.Unlock()
	err = removeLogBefore(d.dir, upTo)
	for _, lf := range old {
		_ = lf.f.Close() // a reader still on it looks its object up again
	}
	return err
}

// Close waits for a running compaction and closes the log's files.
func (d *diskStore) Close() error {
	d.lmu.Lock()
	d.closed = true
	d.lmu.Unlock()
	d.wg.Wait()
	d.lmu.Lock()
	defer d.lmu.Unlock()
	var errs []error
	for _, lf := range d.files {
		errs = append(errs, lf.f.Close())
	}
	d.files, d.w = nil, nil
	return errors.Join(errs...)
}
