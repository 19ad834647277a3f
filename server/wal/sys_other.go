//go:build !linux

package wal

import "os"

// fdatasync flushes f to stable storage (a full fsync where fdatasync is
// not available).
func fdatasync(f *os.File) error { return f.Sync() }

// preallocate extends f to size bytes, reading as zeros.
func preallocate(f *os.File, size int64) error { return f.Truncate(size) }
