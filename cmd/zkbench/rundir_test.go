package main

import (
	"path/filepath"
	"testing"

	"github.com/zkbench/zkbench/results"
)

// matchOne returns the one entry of dir whose name matches pattern
// (filepath.Match syntax); the test fails unless there is exactly one.
func matchOne(t *testing.T, dir, pattern string) string {
	t.Helper()
	ds, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(ds) != 1 {
		t.Fatalf("want one run directory %s under %s, have %v (%v)", pattern, dir, ds, err)
	}
	return ds[0]
}

// runDir returns the one run directory under out.
func runDir(t *testing.T, out string) string {
	t.Helper()
	return matchOne(t, out, "*")
}

// readRun returns the one run directory under dir whose name matches
// pattern, as a command wrote it, and its result; the test fails unless
// there is exactly one and it reads.
func readRun(t *testing.T, dir, pattern string) (string, *results.Result) {
	t.Helper()
	rd := matchOne(t, dir, pattern)
	r, err := results.Read(rd)
	if err != nil {
		t.Fatalf("%s: %v", rd, err)
	}
	return rd, r
}
