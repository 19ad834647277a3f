package wal

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestLogPagesLeaveTheCache: with forceSync the log is written directly
// (decisions #38), so none of its pages enter the page cache. Where the
// file system refuses direct writes, the pages that are durable leave the
// cache a step at a time, and the rest of a file when it is closed
// (decisions #37), while the page the next records go to stays. With
// forceSync off nothing is known durable and everything stays cached,
// which also shows that the residency check can see cached pages.
func TestLogPagesLeaveTheCache(t *testing.T) {
	for _, mode := range []string{"direct", "page cache", "forceSync off"} {
		t.Run(mode, func(t *testing.T) {
			dir := diskDir(t)
			force := mode != "forceSync off"
			l, err := Open(dir, Options{ForceSync: force})
			if err != nil {
				t.Fatal(err)
			}
			if mode == "page cache" {
				l.tryDirect = false
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
			written, direct := l.written, l.direct
			l.mu.Unlock()
			if want := mode == "direct"; direct != want {
				if want && !directFS(t, dir) {
					t.Skipf("the file system of %s refuses O_DIRECT", dir)
				}
				t.Fatalf("file written directly: %v, want %v", direct, want)
			}
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
			switch mode {
			case "direct":
				if cachedEarly > 0 || last {
					t.Errorf("%d of the %d durable pages cached, the written end cached: %v; want none", cachedEarly, len(early), last)
				}
			case "page cache":
				if cachedEarly > 0 || !last {
					t.Errorf("%d of the %d durable pages still cached, the written end cached: %v; want none of them, and the end", cachedEarly, len(early), last)
				}
			default:
				if cachedEarly < len(early) {
					t.Errorf("only %d of the first %d pages cached; want all (nothing is known durable)", cachedEarly, len(early))
				}
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
				t.Errorf("%d pages of the closed file still cached; want none", cached)
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
		})
	}
}

// directFS reports whether dir's file system is one known to take direct
// writes (ext4, XFS, btrfs): there a log that does not write directly is a
// failure, not a file system's limit.
func directFS(t *testing.T, dir string) bool {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	switch fs.Type {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC:
		return true
	}
	return false
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

// TestDirectWritesMatchThePageCache: a log written directly holds the same
// bytes as one written through the page cache, whatever the record sizes,
// sync points and rolls: direct writes rewrite the last block's records
// and pad it with zeros, where the file holds zeros anyway. Only the
// preallocated zeros may reach further (a direct step is whole blocks).
func TestDirectWritesMatchThePageCache(t *testing.T) {
	for _, prealloc := range []int64{1 << 10, 64 << 10} {
		rng := rand.New(rand.NewPCG(uint64(prealloc), 7))
		type step struct {
			size       int
			sync, roll bool
		}
		var steps []step
		for range 3000 {
			steps = append(steps, step{size: 10 + rng.IntN(3000), sync: rng.IntN(8) == 0, roll: rng.IntN(700) == 0})
		}
		write := func(direct bool) string {
			dir := diskDir(t)
			l, err := Open(dir, Options{ForceSync: true, PreAllocSize: prealloc})
			if err != nil {
				t.Fatal(err)
			}
			l.tryDirect = direct
			for i, s := range steps {
				z := int64(i + 1)
				if err := l.Append(z, txn(z, "/k", bytes.Repeat([]byte{byte(z)}, s.size))); err != nil {
					t.Fatal(err)
				}
				if z == 1 && l.direct != direct && directFS(t, dir) {
					t.Fatalf("file written directly: %v, want %v", l.direct, direct)
				}
				if s.sync {
					if err := l.Sync(); err != nil {
						t.Fatal(err)
					}
				}
				if s.roll {
					if err := l.Roll(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			return dir
		}
		viaCache, direct := write(false), write(true)
		names := fileNames(t, viaCache)
		if got := fileNames(t, direct); !slices.Equal(got, names) || len(names) < 3 {
			t.Fatalf("files %v written directly, %v through the cache; want the same, at least 3", got, names)
		}
		for _, name := range names {
			a, b := mustRead(t, filepath.Join(viaCache, name)), mustRead(t, filepath.Join(direct, name))
			n := min(len(a), len(b))
			if !bytes.Equal(a[:n], b[:n]) || !allZero(a[n:]) || !allZero(b[n:]) {
				t.Errorf("preallocation %d, %s: the direct file (%d bytes) differs from the cached one (%d bytes)", prealloc, name, len(b), len(a))
			}
		}
	}
}
