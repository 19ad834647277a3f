package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// names returns the names in dir, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// setHook replaces *hook with f for the rest of the test.
func setHook[F any](t *testing.T, hook *F, f F) {
	old := *hook
	*hook = f
	t.Cleanup(func() { *hook = old })
}

// readOnlyFile creates the file as asked, then hands back a read-only
// descriptor of it, so that every Write fails (EBADF) with the temporary
// file on disk.
func readOnlyFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	f.Close()
	return os.Open(name)
}

// pipeDir opens a pipe instead of the directory: fsync on a pipe fails
// (EINVAL), as a directory fsync can on a failing disk.
func pipeDir(string) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	w.Close()
	return r, nil
}

func TestWriteFileCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "currentEpoch")
	for _, content := range []string{"1\n", "2\n", ""} {
		if err := WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := readString(t, path); got != content {
			t.Errorf("content = %q, want %q", got, content)
		}
		if got := names(t, dir); !slices.Equal(got, []string{"currentEpoch"}) {
			t.Errorf("directory holds %v, want only currentEpoch", got)
		}
	}
}

func TestWriteFilePerm(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	for _, perm := range []fs.FileMode{0o600, 0o644, 0o666} {
		path := filepath.Join(dir, "f")
		if err := WriteFile(path, []byte("x"), perm); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := perm &^ 0o022; st.Mode().Perm() != want {
			t.Errorf("WriteFile(perm %v): mode %v, want %v", perm, st.Mode().Perm(), want)
		}
	}
}

func TestWriteFileFailedWriteKeepsOldContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	setHook(t, &openFile, readOnlyFile)
	err := WriteFile(path, []byte("new"), 0o644)
	if !errors.Is(err, syscall.EBADF) || !strings.Contains(err.Error(), path) {
		t.Errorf("WriteFile = %v, want EBADF naming %s", err, path)
	}
	if got := readString(t, path); got != "old" {
		t.Errorf("content = %q, want the old content", got)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"zoo.cfg"}) {
		t.Errorf("directory holds %v, want only zoo.cfg (no temporary file)", got)
	}
}

func TestWriteFileFailedCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "f")
	err := WriteFile(path, []byte("x"), 0o644)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("WriteFile = %v, want ErrNotExist naming %s", err, path)
	}
}

func TestWriteFileFailedRenameRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d")
	// A non-empty directory cannot be replaced by a file.
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("WriteFile over a directory = %v, want an error naming %s", err, path)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"d"}) {
		t.Errorf("directory holds %v, want only d (no temporary file)", got)
	}
}

func TestWriteFileReportsDirectoryFsync(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "zoo.cfg.dynamic.100000000")
	setHook(t, &openDir, pipeDir)
	err := WriteFile(path, []byte("server.1=a:1:2"), 0o644)
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), path) ||
		!strings.Contains(err.Error(), "fsync directory") {
		t.Errorf("WriteFile = %v, want the directory fsync's EINVAL naming %s", err, path)
	}
	// The rename came first: the new content is in place.
	if got := readString(t, path); got != "server.1=a:1:2" {
		t.Errorf("content = %q", got)
	}
	if got := names(t, dir); !slices.Equal(got, []string{filepath.Base(path)}) {
		t.Errorf("directory holds %v, want no temporary file", got)
	}
}

func TestWriteFileDirectoryOpenFails(t *testing.T) {
	dir := t.TempDir()
	setHook(t, &openDir, func(name string) (*os.File, error) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
	})
	err := WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	if !errors.Is(err, syscall.EACCES) || !strings.Contains(err.Error(), dir) {
		t.Errorf("WriteFile = %v, want EACCES naming %s", err, dir)
	}
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Errorf("SyncDir(%s) = %v", dir, err)
	}
	missing := filepath.Join(dir, "missing")
	if err := SyncDir(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("SyncDir(missing) = %v, want ErrNotExist naming %s", err, missing)
	}
	setHook(t, &openDir, pipeDir)
	if err := SyncDir(dir); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("SyncDir with a failing fsync = %v, want EINVAL", err)
	}
}

func TestFileStreamsAndDiscards(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "snapshot.5")
	f, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b", "c"} {
		if _, err := f.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	// The temporary name is no snapshot's.
	tmp := names(t, dir)
	if len(tmp) != 1 || !strings.HasPrefix(tmp[0], "tmp-snapshot.5-") {
		t.Errorf("while writing, directory holds %v, want one tmp-snapshot.5-*", tmp)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Discard() // no-op after Commit
	if got := readString(t, path); got != "abc" {
		t.Errorf("content = %q, want abc", got)
	}
	if err := f.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}

	g, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	g.Write([]byte("half"))
	g.Discard()
	if got := readString(t, path); got != "abc" {
		t.Errorf("after Discard, content = %q, want abc", got)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"snapshot.5"}) {
		t.Errorf("after Discard, directory holds %v", got)
	}
}

func TestCommitAfterFailedWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	setHook(t, &openFile, readOnlyFile)
	f, err := Create(path, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("lost"))
	if err := f.Commit(); !errors.Is(err, syscall.EBADF) {
		t.Errorf("Commit after a failed Write = %v, want EBADF", err)
	}
	if got := names(t, dir); len(got) != 0 {
		t.Errorf("directory holds %v, want nothing", got)
	}
}
