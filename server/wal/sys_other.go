//go:build !linux

package wal

import "os"

// fdatasync flushes f to stable storage (a full fsync where fdatasync is
// not available).
func fdatasync(f *os.File) error { return f.Sync() }

// dropCache would drop f's cached pages in [off, off+n); elsewhere than
// Linux the log leaves the cache to the kernel.
func dropCache(f *os.File, off, n int64) {}

// setDirect would turn O_DIRECT on or off for f; elsewhere than Linux the
// log is written through the page cache.
func setDirect(f *os.File, on bool) bool { return false }
