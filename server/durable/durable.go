// Package durable replaces files so that a crash leaves either the old
// content or the new, never a mix or nothing: the new content is written
// under a temporary name in the same directory, fsynced, renamed over the
// old file, and the directory is fsynced so that the rename itself
// survives.
//
// Temporary files are named "tmp-<name>-<random>": a reader that looks for
// files by prefix (snapshot.<zxid>, log.<zxid>, upstream's as well as
// ours) never takes one for the real thing. A crash may leave one behind;
// nothing reads it.
package durable

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// Hooks for tests.
var (
	openFile = os.OpenFile
	openDir  = os.Open
)

// WriteFile replaces the file at path with data, durably and atomically.
// When it returns nil, the new content is on disk under path. When it
// fails, no temporary file remains and path holds its old content (or
// nothing, if there was no file), unless the failure was the last step,
// the directory fsync: then path holds the new content but the rename may
// not survive a crash. The file gets perm (before umask), as with
// os.WriteFile, whether it is new or replaced. Every error names path.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Discard()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}

// A File is the new content of a path being written: a temporary file in
// the same directory until Commit puts it in place. Discard abandons it.
// Once Write has failed, every later Write and Commit fail.
type File struct {
	f    *os.File
	path string
	err  error // the first write error
	done bool  // committed or discarded: the temporary file is gone
}

// Create starts replacing path: it creates a temporary file, with perm
// (before umask), in path's directory.
func Create(path string, perm fs.FileMode) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	for try := 0; ; try++ {
		name := filepath.Join(dir, "tmp-"+base+"-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		f, err := openFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) && try < 10000 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
		return &File{f: f, path: path}, nil
	}
}

// Write writes p to the temporary file.
func (f *File) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.f.Write(p)
	if err != nil {
		f.err = fmt.Errorf("writing %s: %w", f.path, err)
	}
	return n, f.err
}

// Commit fsyncs and closes the temporary file, renames it over the path
// and fsyncs the directory. If anything before the rename fails, the
// temporary file is removed and the old content stays. An error from the
// directory fsync means the new content is in place but its name may not
// survive a crash.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("writing %s: already committed or discarded", f.path)
	}
	err := f.err
	if err == nil {
		if err = f.f.Sync(); err != nil {
			err = fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	if err != nil {
		f.Discard()
		return err
	}
	f.done = true
	tmp := f.f.Name()
	if err := f.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	if err := SyncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	return nil
}

// Discard closes and removes the temporary file. After Commit it does
// nothing, so it can be deferred right after Create.
func (f *File) Discard() {
	if f.done {
		return
	}
	f.done = true
	f.f.Close()
	os.Remove(f.f.Name())
}

// SyncDir fsyncs the directory dir, so that the creations, renames and
// removals of files in it survive a crash. Its error names dir (as the
// *fs.PathError it wraps).
func SyncDir(dir string) error {
	d, err := openDir(dir)
	if err != nil {
		return fmt.Errorf("fsync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory: %w", err)
	}
	return nil
}
