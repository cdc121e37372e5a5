package awsiam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/idlab/idlab/internal/atomicfile"
	"github.com/idlab/idlab/internal/jsonlog"
)

// The access keys and sessions persist in an append-only journal
// (internal/jsonlog), so that issuing a session costs one write of its own
// record however many sessions exist (the whole set used to be rewritten
// on every call):
//
//	sessions-<N>.log   a segment: one JSON accessKey a line, appended
//	sessions-<N>.snap  every key alive at the end of segment N, same format
//
// A later record of an access key ID replaces the earlier; a record with
// Deleted set removes the key. Every record is written by one write(2)
// before its call answers, so a killed process loses nothing
// acknowledged; fsync (Options.Fsync) adds power loss. The files are the
// ones the journal of earlier versions (its own code, before jsonlog)
// wrote, line for line.
const (
	journalPrefix = "sessions-"
	// legacyKeysFile is the file earlier versions rewrote whole on every
	// call; it is read once, compacted into a snapshot and deleted.
	legacyKeysFile = "access-keys.json"
)

// keyRecord is one journal line: the accessKey's JSON, checked strictly
// when read (no unknown field, an access key ID).
type keyRecord struct{ k *accessKey }

// MarshalJSON is the accessKey's own JSON.
func (r keyRecord) MarshalJSON() ([]byte, error) { return json.Marshal(r.k) }

// UnmarshalJSON reads an accessKey and refuses unknown fields and a
// record without an access key ID.
func (r *keyRecord) UnmarshalJSON(raw []byte) error {
	var k accessKey
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k); err != nil {
		return fmt.Errorf("parse access key record: %w", err)
	}
	if k.Credentials.AccessKeyID == "" {
		return errors.New("parse access key record: no access key ID")
	}
	r.k = &k
	return nil
}

// records are keys as journal records.
func records(keys []*accessKey) []keyRecord {
	out := make([]keyRecord, len(keys))
	for n, k := range keys {
		out[n] = keyRecord{k}
	}
	return out
}

// openJournal loads what dir holds into apply (an earlier version's keys
// file first, then the journal, oldest record first) and opens the
// journal. legacy reports that the keys file was read: the caller
// compacts at once, and the snapshot replaces the file.
func openJournal(dir string, fsync bool, log *slog.Logger, apply func(*accessKey)) (j *jsonlog.Journal[keyRecord], legacy bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("access key journal: %w", err)
	}
	if err := atomicfile.RemoveTemp(dir); err != nil {
		return nil, false, fmt.Errorf("access key journal: %w", err)
	}
	legacy, err = loadLegacy(dir, apply)
	if err != nil {
		return nil, false, err
	}
	j, err = jsonlog.Open(jsonlog.Options{Dir: dir, Prefix: journalPrefix, Fsync: fsync, Logger: log, Replaces: []string{legacyKeysFile}},
		func(r keyRecord) { apply(r.k) })
	if err != nil {
		return nil, false, fmt.Errorf("access key %w", err)
	}
	return j, legacy, nil
}

// loadLegacy reads an earlier version's access-keys.json in dir, if any.
func loadLegacy(dir string, apply func(*accessKey)) (bool, error) {
	path := filepath.Join(dir, legacyKeysFile)
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
	}
	return true, nil
}
