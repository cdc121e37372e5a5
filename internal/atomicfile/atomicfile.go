// Package atomicfile writes files so that a crash leaves either the old or
// the new content, never half of one: every emulator's persisted state
// (IAM keys, S3 objects, SNS topics) and the lab state go through it.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempInfix sits between the target's name and CreateTemp's random digits
// in the name of Write's temporary file: ".NAME.tmp-DIGITS".
const tempInfix = ".tmp-"

// Write writes data to path with perm, durably: WriteSync with sync true.
// The lab's own state (lab.json, reports) goes through it.
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteSync(path, data, perm, true)
}

// WriteSync writes data to path with perm: a temporary file beside path,
// renamed over path, so a reader or a restarted process sees the old
// content or the new one, never half of one. A killed process loses
// nothing that way: the kernel keeps what was written. With sync the file
// is fsynced before the rename and the directory after it, so the new
// content also survives a power loss; emulators pass their --fsync
// setting, off by default (a lab's threat is a killed process). Missing
// parent directories are created (0700).
func WriteSync(path string, data []byte, perm os.FileMode, sync bool) error {
	return WriteFunc(path, perm, sync, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc is WriteSync with the content streamed by fill, for files too
// large to hold in memory twice (IAM's session snapshots).
func WriteFunc(path string, perm os.FileMode, sync bool, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	err = fill(f)
	if err == nil && perm != 0o600 { // CreateTemp made it 0600
		err = f.Chmod(perm)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if sync {
		SyncDir(dir)
	}
	return nil
}

// SyncDir fsyncs a directory so that renames and creations in it survive
// a power loss. Errors are ignored: not every file system syncs directories.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// IsTemp reports whether name (a base name) is one of Write's temporary
// files: "." + the target's name + ".tmp-" + CreateTemp's decimal digits.
func IsTemp(name string) bool {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return false
	}
	i := strings.LastIndex(rest, tempInfix)
	if i <= 0 {
		return false
	}
	digits := rest[i+len(tempInfix):]
	return digits != "" && strings.Trim(digits, "0123456789") == ""
}

// RemoveTemp deletes the temporary files Write leaves behind when its
// process is killed between creating and renaming one, in root and every
// directory below it. A store calls it when it opens its data directory,
// which no other process writes; a missing root is not an error.
func RemoveTemp(root string) error {
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() || !IsTemp(e.Name()) {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove temporary files under %s: %w", root, err)
	}
	return nil
}
