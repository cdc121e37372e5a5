package awss3

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/idlab/idlab/internal/jsonlog"
)

// Objects persist in an append-only log, so that a PutObject costs one
// append to an open file however many objects exist (it used to cost a
// data file, a metadata file, a rename and a delete):
//
//	objects-<N>.log   a segment: records appended, one per put or delete
//	objects-<N>.snap  the live records of every segment up to N, copied
//
// N is a 16-digit decimal. A record is a 20-byte header (magic, metadata
// length, data length, CRC-32C of the header and metadata), the metadata
// (JSON: put or delete, bucket, the Object), the object's bytes and their
// CRC-32C. When the files hold as many dead bytes as live ones (and at
// least compactMinBytes), the log rotates to a new segment and a
// background compaction copies the live records into objects-<N>.snap
// (temporary file + rename) and deletes the files it replaces.
//
// Opening reads the newest snapshot and the segments after it, headers
// and metadata only, seeking over the bytes; only a segment's last record,
// which a killed process may have left half written, has its bytes read
// and checked. Such a record is ignored: its call never answered. Every
// record was written before its call answered, so a killed process loses
// nothing acknowledged; fsync (Options.Fsync) adds power loss.
const (
	objPrefix        = "objects-"
	objSegmentSuffix = jsonlog.SegmentSuffix
	objSnapSuffix    = jsonlog.SnapSuffix
	recordMagic      = "S3o1"
	headerSize       = 20
	// compactMinBytes is how many dead bytes the log holds before a
	// compaction, whatever the live ones: small stores compact rarely.
	compactMinBytes = 64 << 20
	// maxMetaSize bounds a record's metadata (a key is at most 1 KiB, the
	// user metadata 2 KiB in S3).
	maxMetaSize = 1 << 20
	// oneWriteMax is the largest record assembled in memory and appended
	// with one write; larger ones go out in three writes.
	oneWriteMax = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record operations.
const (
	opPut    = "put"
	opDelete = "delete"
)

// recordMeta is a record's metadata.
type recordMeta struct {
	Op     string  `json:"op"`
	Bucket string  `json:"bucket"`
	Key    string  `json:"key,omitempty"` // delete
	Object *Object `json:"object,omitempty"`
}

// logFile is an open segment or snapshot, read with ReadAt. A compaction
// closes the files it replaces; a reader that then gets os.ErrClosed looks
// the object up again.
type logFile struct {
	n    int64
	snap bool
	f    *os.File
}

func (lf *logFile) name() string {
	if lf.snap {
		return objLogName(lf.n, objSnapSuffix)
	}
	return objLogName(lf.n, objSegmentSuffix)
}

// objLoc is where an object's record lies: its file, the offset of the
// record and of its bytes, and the record's whole length. A stored Object
// points to one; compaction swaps in a new one with the same ver, which
// tells one put of a key from another.
type objLoc struct {
	file    *logFile
	off     int64
	dataOff int64
	recLen  int64
	ver     uint64
}

// objLogName is the file of segment or snapshot n.
func objLogName(n int64, suffix string) string {
	return fmt.Sprintf("%s%016d%s", objPrefix, n, suffix)
}

// parseObjLogName returns the number and suffix of a log file name.
func parseObjLogName(name string) (int64, string, bool) {
	return jsonlog.ParseFileName(name, objPrefix)
}

// encodeObjRecord is the record of m with data: whole, in one buffer,
// when it is small; else the header and metadata, for data and its CRC
// to follow.
func encodeObjRecord(m recordMeta, data []byte) (head []byte, metaLen int, whole bool, err error) {
	meta, err := json.Marshal(m)
	if err != nil {
		return nil, 0, false, fmt.Errorf("encode object record: %w", err)
	}
	if len(meta) > maxMetaSize {
		return nil, 0, false, fmt.Errorf("encode object record: %d bytes of metadata, at most %d", len(meta), maxMetaSize)
	}
	n := headerSize + len(meta)
	whole = n+len(data)+4 <= oneWriteMax
	size := n
	if whole {
		size += len(data) + 4
	}
	var buf []byte
	if size <= maxPooledRecord {
		buf = (*recordBufs.Get().(*[]byte))[:headerSize]
	} else {
		buf = make([]byte, headerSize, size)
	}
	copy(buf, recordMagic)
	binary.BigEndian.PutUint32(buf[4:], uint32(len(meta)))
	binary.BigEndian.PutUint64(buf[8:], uint64(len(data)))
	crc := crc32.Update(crc32.Checksum(buf[:16], castagnoli), castagnoli, meta)
	binary.BigEndian.PutUint32(buf[16:], crc)
	buf = append(buf, meta...)
	if whole {
		buf = append(buf, data...)
		buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(data, castagnoli))
	}
	return buf, len(meta), whole, nil
}

// recordBufs hold encoded records of at most maxPooledRecord bytes (a
// small object's whole record) between encodeObjRecord and the append
// that writes them, so that a small PutObject allocates no record buffer.
var recordBufs = sync.Pool{New: func() any { b := make([]byte, 0, maxPooledRecord); return &b }}

const maxPooledRecord = 64 << 10

// releaseRecord gives a record encodeObjRecord returned back once it is
// written; nothing may use it afterwards.
func releaseRecord(head []byte) {
	if cap(head) == maxPooledRecord {
		head = head[:0]
		recordBufs.Put(&head)
	}
}

// errTornRecord marks a record a killed process left half written.
var errTornRecord = errors.New("torn record")

// scanRecord is one record read back while opening the log.
type scanRecord struct {
	meta    recordMeta
	off     int64
	dataOff int64
	recLen  int64
}

// scanLog reads the records of one log file, calling apply for each. A
// last record that is incomplete or whose CRC does not match is reported
// as errTornRecord after the whole ones were applied; anything else that
// is not a record is ErrCorruptDataStore.
func scanLog(f *os.File, apply func(scanRecord) error) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 64<<10)
	var off int64
	head := make([]byte, headerSize)
	for off < size {
		torn := func(what string) error {
			return fmt.Errorf("%w at offset %d: %s", errTornRecord, off, what)
		}
		if size-off < headerSize {
			return torn("header cut short")
		}
		if _, err := io.ReadFull(br, head); err != nil {
			return err
		}
		if string(head[:4]) != recordMagic {
			return fmt.Errorf("%w: %s offset %d: no record", ErrCorruptDataStore, f.Name(), off)
		}
		metaLen := int64(binary.BigEndian.Uint32(head[4:]))
		dataLen := int64(binary.BigEndian.Uint64(head[8:]))
		if metaLen > maxMetaSize || dataLen < 0 || dataLen > maxObjectSize {
			if off+headerSize+metaLen+dataLen+4 > size {
				return torn("lengths past the end")
			}
			return fmt.Errorf("%w: %s offset %d: record lengths %d, %d", ErrCorruptDataStore, f.Name(), off, metaLen, dataLen)
		}
		recLen := headerSize + metaLen + dataLen + 4
		end := off + recLen
		if end > size {
			return torn("cut short")
		}
		meta := make([]byte, metaLen)
		if _, err := io.ReadFull(br, meta); err != nil {
			return err
		}
		crc := crc32.Update(crc32.Checksum(head[:16], castagnoli), castagnoli, meta)
		last := end == size
		if crc != binary.BigEndian.Uint32(head[16:]) {
			if last {
				return torn("header checksum")
			}
			return fmt.Errorf("%w: %s offset %d: header checksum", ErrCorruptDataStore, f.Name(), off)
		}
		if last {
			// The one record a kill may have cut inside its bytes.
			data := make([]byte, dataLen+4)
			if _, err := io.ReadFull(br, data); err != nil {
				return err
			}
			if crc32.Checksum(data[:dataLen], castagnoli) != binary.BigEndian.Uint32(data[dataLen:]) {
				return torn("data checksum")
			}
		} else if _, err := br.Discard(int(dataLen + 4)); err != nil {
			return err
		}
		var m recordMeta
		if err := json.Unmarshal(meta, &m); err != nil || m.Bucket == "" || (m.Op == opPut) == (m.Object == nil) ||
			m.Op != opPut && m.Op != opDelete {
			return fmt.Errorf("%w: %s offset %d: record metadata %q", ErrCorruptDataStore, f.Name(), off, meta)
		}
		if err := apply(scanRecord{meta: m, off: off, dataOff: off + headerSize + metaLen, recLen: recLen}); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// logDir lists the log files of dir: the newest snapshot (-1 if none),
// the segments after it, sorted, and the highest number of any.
func logDir(dir string) (snap int64, segs []int64, highest int64, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, nil, 0, err
	}
	snap, highest = -1, -1
	var all []int64
	for _, e := range entries {
		n, suffix, ok := parseObjLogName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		highest = max(highest, n)
		if suffix == objSnapSuffix {
			snap = max(snap, n)
		} else {
			all = append(all, n)
		}
	}
	for _, n := range all {
		if n > snap {
			segs = append(segs, n)
		}
	}
	slices.Sort(segs)
	return snap, segs, highest, nil
}

// removeLogBefore deletes the segments up to snapshot snap and the
// snapshots before it: everything snap replaces.
func removeLogBefore(dir string, snap int64) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		n, suffix, ok := parseObjLogName(e.Name())
		if ok && (n < snap || n == snap && suffix == objSegmentSuffix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
