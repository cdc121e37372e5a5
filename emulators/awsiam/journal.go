package awsiam

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/idlab/idlab/internal/atomicfile"
)

// The access keys and sessions persist in an append-only journal, so that
// issuing a session costs one write of its own record however many sessions
// exist (the whole set used to be rewritten on every call):
//
//	sessions-<N>.log   a segment: one JSON accessKey a line, appended
//	sessions-<N>.snap  every key alive at the end of segment N, same format
//
// N is a 16-digit decimal. The live segment is the highest; when the
// segments hold as many records again as there are live keys, the journal
// rotates to a new segment and a background compaction writes the live keys
// as sessions-<N>.snap (temp file + rename) and deletes the files it
// replaces. Opening reads the newest snapshot and the segments after it; a
// line a killed process left half written (the last one of a segment, with
// no newline) is ignored, since its call never answered. Every record was
// written by one write(2) before its call answered, so a killed process
// loses nothing acknowledged; fsync (Options.Fsync) adds power loss.
const (
	journalPrefix = "sessions-"
	segmentSuffix = ".log"
	snapSuffix    = ".snap"
	// compactMin is how many records the segments hold beyond the live keys
	// before a compaction: a floor so that small stores do not compact on
	// every call.
	compactMin = 4096
	// legacyKeysFile is the file earlier versions rewrote whole on every
	// call; it is read once, compacted into a snapshot and deleted.
	legacyKeysFile = "access-keys.json"
)

// journal appends key records to the live segment and compacts in the
// background. Its mu is taken before IAM.mu, so that the order of records
// in the journal is the order of changes to the keys.
type journal struct {
	dir  string
	sync bool
	log  *slog.Logger

	mu         sync.Mutex
	f          *os.File
	seg        int64
	onDisk     int // records in the newest snapshot and the segments after it
	compacting bool
	closed     bool
	wg         sync.WaitGroup
}

// journalName is the file of segment or snapshot n.
func journalName(n int64, suffix string) string {
	return fmt.Sprintf("%s%016d%s", journalPrefix, n, suffix)
}

// parseJournalName returns the number and suffix of a journal file name.
func parseJournalName(name string) (int64, string, bool) {
	rest, ok := strings.CutPrefix(name, journalPrefix)
	if !ok {
		return 0, "", false
	}
	for _, suffix := range []string{segmentSuffix, snapSuffix} {
		if digits, ok := strings.CutSuffix(rest, suffix); ok && len(digits) == 16 {
			n, err := strconv.ParseInt(digits, 10, 64)
			if err != nil || n < 0 {
				return 0, "", false
			}
			return n, suffix, true
		}
	}
	return 0, "", false
}

// encodeRecord is k as one journal line.
func encodeRecord(k *accessKey) ([]byte, error) {
	b, err := json.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("encode access key record: %w", err)
	}
	return append(b, '\n'), nil
}

// errTruncated marks a last line with no newline: a write a killed process
// left half done.
var errTruncated = errors.New("truncated last record")

// readRecords calls apply for every record of one journal file's content.
// A last line without its newline is skipped (errTruncated is returned
// after every whole record was applied, for the caller to log); any other
// line that is not a record is an error naming its line.
func readRecords(r io.Reader, apply func(*accessKey)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		raw, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(raw) == 0 {
				return nil
			}
			return fmt.Errorf("line %d: %w", line, errTruncated)
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		k, err := decodeRecord(raw)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		apply(k)
	}
}

// decodeRecord parses one journal line into a key with an ID.
func decodeRecord(raw []byte) (*accessKey, error) {
	var k accessKey
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k); err != nil {
		return nil, fmt.Errorf("parse access key record: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse access key record: more than one value on the line")
	}
	if k.Credentials.AccessKeyID == "" {
		return nil, errors.New("parse access key record: no access key ID")
	}
	return &k, nil
}

// openJournal loads what dir holds into apply (oldest record first; a
// later record of an ID replaces the earlier) and opens a new segment for
// appends. legacy reports that an earlier version's keys file was read:
// the caller compacts at once so that it can be deleted.
func openJournal(dir string, sync bool, log *slog.Logger, apply func(*accessKey)) (j *journal, legacy bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("access key journal: %w", err)
	}
	if err := atomicfile.RemoveTemp(dir); err != nil {
		return nil, false, fmt.Errorf("access key journal: %w", err)
	}
	j = &journal{dir: dir, sync: sync, log: log}
	legacy, err = j.loadLegacy(apply)
	if err != nil {
		return nil, false, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, fmt.Errorf("access key journal: %w", err)
	}
	snap := int64(-1)
	var segs []int64
	for _, e := range entries {
		n, suffix, ok := parseJournalName(e.Name())
		switch {
		case !ok || !e.Type().IsRegular():
		case suffix == snapSuffix:
			snap = max(snap, n)
		default:
			segs = append(segs, n)
		}
		if ok {
			j.seg = max(j.seg, n)
		}
	}
	if snap >= 0 {
		if err := j.loadFile(journalName(snap, snapSuffix), apply); err != nil {
			return nil, false, err
		}
	}
	slices.Sort(segs)
	for _, n := range segs {
		if n <= snap {
			continue // compacted into the snapshot; a compaction killed before its deletes
		}
		if err := j.loadFile(journalName(n, segmentSuffix), apply); err != nil {
			return nil, false, err
		}
	}
	j.removeBefore(snap)
	if err := j.rotate(); err != nil {
		return nil, false, err
	}
	return j, legacy, nil
}

// loadLegacy reads an earlier version's access-keys.json, if any.
func (j *journal) loadLegacy(apply func(*accessKey)) (bool, error) {
	path := filepath.Join(j.dir, legacyKeysFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read persisted access keys: %w", err)
	}
	var keys []*accessKey
	if err := json.Unmarshal(raw, &keys); err != nil {
		return false, fmt.Errorf("parse persisted access keys %s: %w", path, err)
	}
	for _, k := range keys {
		apply(k)
		j.onDisk++
	}
	return true, nil
}

// loadFile applies one snapshot or segment.
func (j *journal) loadFile(name string, apply func(*accessKey)) error {
	f, err := os.Open(filepath.Join(j.dir, name))
	if err != nil {
		return fmt.Errorf("access key journal: %w", err)
	}
	defer f.Close()
	err = readRecords(f, func(k *accessKey) { apply(k); j.onDisk++ })
	if errors.Is(err, errTruncated) {
		j.log.Warn("access key journal: ignoring a record a killed process left half written", "file", name, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("access key journal %s: %w", filepath.Join(j.dir, name), err)
	}
	return nil
}

// rotate closes the live segment and moves on to the next, which the
// next append creates (so a restart with nothing to write leaves no empty
// file). j.mu must be held (or j not yet shared).
func (j *journal) rotate() error {
	if j.f != nil {
		if err := j.f.Close(); err != nil {
			return fmt.Errorf("access key journal: %w", err)
		}
	}
	j.f = nil
	j.seg++
	return nil
}

// append writes rec to the live segment. It returns whether the journal
// now holds enough beyond live keys to compact.
func (j *journal) append(rec []byte, live int) (bool, error) {
	if j.closed {
		return false, errors.New("access key journal: closed")
	}
	if j.f == nil {
		f, err := os.OpenFile(filepath.Join(j.dir, journalName(j.seg, segmentSuffix)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if err != nil {
			return false, fmt.Errorf("access key journal: %w", err)
		}
		if j.sync {
			atomicfile.SyncDir(j.dir)
		}
		j.f = f
	}
	if _, err := j.f.Write(rec); err != nil {
		return false, fmt.Errorf("access key journal: %w", err)
	}
	if j.sync {
		if err := j.f.Sync(); err != nil {
			return false, fmt.Errorf("access key journal: %w", err)
		}
	}
	j.onDisk++
	return j.due(live), nil
}

// due reports whether a compaction should start. j.mu must be held.
func (j *journal) due(live int) bool {
	return !j.compacting && !j.closed && j.onDisk >= 2*live+compactMin
}

// startCompaction rotates to a new segment and, in the background, writes
// keys (every key alive at the end of the old segments, none of them ever
// modified again) as the snapshot replacing them. j.mu must be held.
func (j *journal) startCompaction(keys []*accessKey) error {
	upTo := j.seg
	if err := j.rotate(); err != nil {
		return err
	}
	j.compacting = true
	j.onDisk = len(keys) // as soon as the snapshot lands; counted now so due stays quiet
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		err := j.writeSnapshot(upTo, keys)
		j.mu.Lock()
		j.compacting = false
		j.mu.Unlock()
		if err != nil {
			j.log.Error("access key journal: compaction", "err", err)
		}
	}()
	return nil
}

// writeSnapshot writes keys as snapshot upTo and deletes the files it
// replaces.
func (j *journal) writeSnapshot(upTo int64, keys []*accessKey) error {
	path := filepath.Join(j.dir, journalName(upTo, snapSuffix))
	err := atomicfile.WriteFunc(path, 0o600, j.sync, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 256<<10)
		for _, k := range keys {
			rec, err := encodeRecord(k)
			if err != nil {
				return err
			}
			if _, err := bw.Write(rec); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return err
	}
	j.removeBefore(upTo)
	return nil
}

// removeBefore deletes the segments up to snapshot snap, the snapshots
// before it and the legacy keys file: everything snap replaces.
func (j *journal) removeBefore(snap int64) {
	if snap < 0 {
		return
	}
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		j.log.Error("access key journal: list", "err", err)
		return
	}
	for _, e := range entries {
		n, suffix, ok := parseJournalName(e.Name())
		if e.Name() == legacyKeysFile || ok && (n < snap || n == snap && suffix == segmentSuffix) {
			if err := os.Remove(filepath.Join(j.dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				j.log.Error("access key journal: remove compacted file", "file", e.Name(), "err", err)
			}
		}
	}
}

// close waits for a running compaction and closes the live segment.
func (j *journal) close() error {
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	j.wg.Wait()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
