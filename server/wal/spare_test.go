package wal

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A process out of descriptors (its clients hold them all) still creates
// its next log file: the Log gives up the descriptor it holds in reserve,
// so the txn is logged instead of poisoning the Log. Lowers this test
// process's RLIMIT_NOFILE for the duration of the test.
func TestCreateSurvivesDescriptorExhaustion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "version-2")
	l, err := Open(dir, Options{ForceSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Append(1, payloadFor(1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = uint64(len(ents) + 16)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var held []*os.File
	defer func() {
		for _, f := range held {
			f.Close()
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Errorf("restoring RLIMIT_NOFILE: %v", err)
		}
	}()
	for {
		f, err := os.Open(os.DevNull)
		if errors.Is(err, syscall.EMFILE) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if held = append(held, f); len(held) > 1000 {
			t.Fatal("RLIMIT_NOFILE did not take")
		}
	}

	if err := l.Append(2, payloadFor(2)); err != nil {
		t.Fatalf("append that creates a file with every other descriptor taken: %v", err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LogName(2))); err != nil {
		t.Fatal(err)
	}
}
