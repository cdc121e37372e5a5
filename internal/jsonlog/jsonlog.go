// Package jsonlog persists a set of records in an append-only journal of
// JSON lines compacted in the background, so that saving one change costs
// one write of its own record however many records exist (rather than
// rewriting a whole state file per change, which is quadratic).
//
// The files, under a directory and a name prefix P:
//
//	P<N>.log   a segment: one JSON record a line, appended
//	P<N>.snap  the records alive at the end of segment N, same format
//
// N is a 16-digit decimal. Open reads the newest snapshot and the
// segments after it, oldest first, into the caller's apply; a last line
// without its newline (a write a killed process left half done: its call
// never answered) is ignored. Every record is written by one write(2)
// before Append returns, so a killed process loses nothing acknowledged;
// Options.Fsync adds power loss. When the files hold as many records again
// as are alive (and at least CompactMin), Due says so and the caller
// passes the live records to Compact, which rotates to a new segment and
// writes the snapshot (temporary file + rename) in the background, then
// deletes the files it replaces. awsiam's sessions and access keys and
// gcpiam's tokens persist in it.
package jsonlog

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

// CompactMin is how many records the files hold beyond the live ones
// before Due reports a compaction: a floor so that small sets do not
// compact on every change.
const CompactMin = 4096

// Suffixes of segments and snapshots.
const (
	SegmentSuffix = ".log"
	SnapSuffix    = ".snap"
)

// Options configure a Journal.
type Options struct {
	// Dir holds the files; created if missing.
	Dir string
	// Prefix starts every file name ("tokens-").
	Prefix string
	// Fsync makes every append and snapshot durable against power loss.
	Fsync bool
	// Logger gets what a background compaction could not do. Defaults to
	// discarding.
	Logger *slog.Logger
	// Replaces names files in Dir that every snapshot replaces besides the
	// journal's own (an earlier version's state file, which the caller read
	// before Open and compacts at once): they are deleted with the segments
	// a snapshot replaces, never before one landed.
	Replaces []string
}

// Journal appends records of type T and compacts them. It is safe for
// concurrent use.
type Journal[T any] struct {
	opts Options

	mu         sync.Mutex
	f          *os.File
	seg        int64
	onDisk     int // records in the newest snapshot and the segments after it
	compacting bool
	closed     bool
	wg         sync.WaitGroup
}

// ErrTruncated marks a last line with no newline.
var ErrTruncated = errors.New("truncated last record")

// Open loads what the directory holds into apply, oldest record first,
// and opens a new segment for appends (created at the first Append).
func Open[T any](opts Options, apply func(T)) (*Journal[T], error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Prefix == "" {
		return nil, errors.New("jsonlog: Options.Prefix is required")
	}
	j := &Journal[T]{opts: opts}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, j.wrap(err)
	}
	entries, err := os.ReadDir(opts.Dir)
	if err != nil {
		return nil, j.wrap(err)
	}
	snap := int64(-1)
	var segs []int64
	for _, e := range entries {
		n, suffix, ok := j.parseName(e.Name())
		switch {
		case !ok || !e.Type().IsRegular():
			continue
		case suffix == SnapSuffix:
			snap = max(snap, n)
		default:
			segs = append(segs, n)
		}
		j.seg = max(j.seg, n)
	}
	if snap >= 0 {
		if err := j.load(j.name(snap, SnapSuffix), apply); err != nil {
			return nil, err
		}
	}
	slices.Sort(segs)
	for _, n := range segs {
		if n > snap { // older ones were compacted into the snapshot
			if err := j.load(j.name(n, SegmentSuffix), apply); err != nil {
				return nil, err
			}
		}
	}
	j.removeBefore(snap)
	j.seg++
	return j, nil
}

func (j *Journal[T]) wrap(err error) error {
	return fmt.Errorf("journal %s: %w", filepath.Join(j.opts.Dir, j.opts.Prefix+"*"), err)
}

// name is the file of segment or snapshot n.
func (j *Journal[T]) name(n int64, suffix string) string {
	return fmt.Sprintf("%s%016d%s", j.opts.Prefix, n, suffix)
}

// parseName returns the number and suffix of one of the journal's files.
func (j *Journal[T]) parseName(name string) (int64, string, bool) {
	return ParseFileName(name, j.opts.Prefix)
}

// ParseFileName returns the number and suffix of a file of an append-only
// log named as this package names them: prefix, 16 decimal digits, then
// SegmentSuffix or SnapSuffix (awss3's object log names its files so too).
func ParseFileName(name, prefix string) (int64, string, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, "", false
	}
	for _, suffix := range []string{SegmentSuffix, SnapSuffix} {
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

// load applies one file.
func (j *Journal[T]) load(name string, apply func(T)) error {
	f, err := os.Open(filepath.Join(j.opts.Dir, name))
	if err != nil {
		return j.wrap(err)
	}
	defer f.Close()
	err = Read(f, func(v T) { apply(v); j.onDisk++ })
	if errors.Is(err, ErrTruncated) {
		j.opts.Logger.Warn("journal: ignoring a record a killed process left half written", "file", name, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal %s: %w", filepath.Join(j.opts.Dir, name), err)
	}
	return nil
}

// Read calls apply for every record of one file's content. A last line
// without its newline is skipped and ErrTruncated returned after every
// whole record was applied; any other line that is not a record is an
// error naming its line.
func Read[T any](r io.Reader, apply func(T)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		raw, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(raw) == 0 {
				return nil
			}
			return fmt.Errorf("line %d: %w", line, ErrTruncated)
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		var v T
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("line %d: parse record: %w", line, err)
		}
		if dec.More() {
			return fmt.Errorf("line %d: more than one value on the line", line)
		}
		apply(v)
	}
}

// Encode is v as one journal line.
func Encode[T any](v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	if bytes.IndexByte(b, '\n') >= 0 {
		return nil, errors.New("encode record: a newline in its JSON")
	}
	return append(b, '\n'), nil
}

// Append writes the records to the live segment in one write and reports
// whether the files now hold enough beyond the live records to compact.
func (j *Journal[T]) Append(live int, recs ...T) (due bool, err error) {
	var buf []byte
	for _, r := range recs {
		line, err := Encode(r)
		if err != nil {
			return false, j.wrap(err)
		}
		buf = append(buf, line...)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return false, j.wrap(errors.New("closed"))
	}
	if j.f == nil {
		f, err := os.OpenFile(filepath.Join(j.opts.Dir, j.name(j.seg, SegmentSuffix)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if err != nil {
			return false, j.wrap(err)
		}
		if j.opts.Fsync {
			atomicfile.SyncDir(j.opts.Dir)
		}
		j.f = f
	}
	if _, err := j.f.Write(buf); err != nil {
		// A half-written line ends this segment; the next append starts
		// another, and the next Open ignores the torn line.
		_ = j.f.Close()
		j.f, j.seg = nil, j.seg+1
		return false, j.wrap(err)
	}
	if j.opts.Fsync {
		if err := j.f.Sync(); err != nil {
			return false, j.wrap(err)
		}
	}
	j.onDisk += len(recs)
	return j.dueLocked(live), nil
}

// Due reports whether a compaction over live records should start.
func (j *Journal[T]) Due(live int) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.dueLocked(live)
}

func (j *Journal[T]) dueLocked(live int) bool {
	return !j.compacting && !j.closed && j.onDisk >= 2*live+CompactMin
}

// Compact rotates to a new segment and writes live (every record alive at
// the end of the segments so far; none of them changed afterwards) as the
// snapshot replacing them, in the background. The caller must hold
// whatever orders its Appends, so that nothing is appended between its
// reading live and this call.
func (j *Journal[T]) Compact(live []T) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.compacting || j.closed {
		return
	}
	upTo := j.seg
	if j.f != nil {
		if err := j.f.Close(); err != nil {
			j.opts.Logger.Error("journal: close segment", "err", err)
		}
		j.f = nil
	}
	j.seg++
	j.compacting = true
	j.onDisk = len(live) // as soon as the snapshot lands; counted now so Due stays quiet
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		err := j.writeSnapshot(upTo, live)
		j.mu.Lock()
		j.compacting = false
		j.mu.Unlock()
		if err != nil {
			j.opts.Logger.Error("journal: compaction", "err", err)
		}
	}()
}

// writeSnapshot writes live as snapshot upTo and deletes what it replaces.
func (j *Journal[T]) writeSnapshot(upTo int64, live []T) error {
	path := filepath.Join(j.opts.Dir, j.name(upTo, SnapSuffix))
	err := atomicfile.WriteFunc(path, 0o600, j.opts.Fsync, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 256<<10)
		for _, r := range live {
			line, err := Encode(r)
			if err != nil {
				return err
			}
			if _, err := bw.Write(line); err != nil {
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
// before it and the files Options.Replaces names.
func (j *Journal[T]) removeBefore(snap int64) {
	if snap < 0 {
		return
	}
	entries, err := os.ReadDir(j.opts.Dir)
	if err != nil {
		j.opts.Logger.Error("journal: list", "err", err)
		return
	}
	for _, e := range entries {
		n, suffix, ok := j.parseName(e.Name())
		if ok && (n < snap || n == snap && suffix == SegmentSuffix) || slices.Contains(j.opts.Replaces, e.Name()) {
			if err := os.Remove(filepath.Join(j.opts.Dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				j.opts.Logger.Error("journal: remove compacted file", "file", e.Name(), "err", err)
			}
		}
	}
}

// Wait waits for a running compaction.
func (j *Journal[T]) Wait() { j.wg.Wait() }

// Close waits for a running compaction and closes the live segment;
// Append fails afterwards.
func (j *Journal[T]) Close() error {
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
