package wal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestSyncedPagesLeaveTheCache: with forceSync, the pages of the log that
// are durable leave the page cache a step at a time, and the rest of a
// file when it is closed, so that the next
// preallocation writes its zeros into pages the kernel just freed, not
// fresh ones (decisions #37); the pages the next records go to stay. With
// forceSync off nothing is known durable and everything stays cached,
// which also shows that the residency check can see cached pages.
func TestSyncedPagesLeaveTheCache(t *testing.T) {
	for _, force := range []bool{true, false} {
		dir := diskDir(t)
		l, err := Open(dir, Options{ForceSync: force})
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte{'v'}, 1000)
		for z := int64(1); z <= 4000; z++ {
			if err := l.Append(z, txn(z, "/k", data)); err != nil {
				t.Fatal(err)
			}
			if z%20 == 0 {
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
			}
		}
		l.mu.Lock()
		written := l.written
		l.mu.Unlock()
		resident := residency(t, filepath.Join(dir, LogName(1)))
		page := int64(os.Getpagesize())
		early := resident[:(written-2*dropStep)/page] // durable for at least a step
		cachedEarly := 0
		for _, r := range early {
			if r {
				cachedEarly++
			}
		}
		last := resident[(written-1)/page] // where the next record goes
		switch {
		case force && (cachedEarly > 0 || !last):
			t.Errorf("forceSync: %d of the %d durable pages still cached, the written end cached: %v; want none of them, and the end", cachedEarly, len(early), last)
		case !force && cachedEarly < len(early):
			t.Errorf("forceSync off: only %d of the first %d pages cached; want all (nothing is known durable)", cachedEarly, len(early))
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		// Closing a file synced it and, with forceSync, dropped the rest.
		cached := 0
		for _, r := range residency(t, filepath.Join(dir, LogName(1))) {
			if r {
				cached++
			}
		}
		if force && cached > 0 {
			t.Errorf("forceSync: %d pages of the closed file still cached; want none", cached)
		}
		n := int64(0)
		err = ReadFrom(dir, 0, func(z int64, rec []byte) error {
			if n++; z != n || !bytes.Equal(rec, txn(z, "/k", data)) {
				t.Fatalf("txn %d read back as zxid %d, or with other bytes", n, z)
			}
			return nil
		})
		if err != nil || n != 4000 {
			t.Fatalf("read back %d txns, %v; want 4000", n, err)
		}
	}
}

// residency reports, page by page, whether the file at path is in the
// page cache (mincore over a read-only mapping that touches nothing).
func residency(t *testing.T, path string) []bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	out := make([]bool, len(vec))
	for i, v := range vec {
		out[i] = v&1 != 0
	}
	return out
}

// diskDir returns a temporary directory on a disk-backed file system: on
// tmpfs the page cache is the storage, and nothing leaves it.
func diskDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type != unix.TMPFS_MAGIC {
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir, err = os.MkdirTemp(wd, "cache-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
