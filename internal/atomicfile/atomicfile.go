// Package atomicfile writes files so that a crash leaves either the old or
// the new content, never half of one: every emulator's persisted state
// (IAM keys, S3 objects, SNS topics) and the lab state go through it.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempInfix sits between the target's name and CreateTemp's random digits
// in the name of Write's temporary file: ".NAME.tmp-DIGITS".
const tempInfix = ".tmp-"

// Write writes data to path with perm: a temporary file beside path,
// fsync, rename over path, then fsync of the directory so the rename itself
// survives a crash. Missing parent directories are created (0700).
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
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
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
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
