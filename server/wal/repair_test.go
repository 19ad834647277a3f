package wal

import (
	"bytes"
	"errors"
	"fmt"
	"hash/adler32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recordOffsets returns the start offsets of the records of a file written
// by writeLog with the given zxids, and the end of the last one.
func recordOffsets(zxids []int64) (starts []int64, end int64) {
	off := int64(headerSize)
	for _, z := range zxids {
		starts = append(starts, off)
		off += int64(recordOverhead + len(payloadFor(z)))
	}
	return starts, off
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTornTailEveryOffset simulates a crash during the last write at every
// byte of the last record, in three ways: the file ends there (no
// preallocation), the rest of the record never reached the disk (zeros, with
// preallocation), and the rest of the record is garbage. Repair must keep
// every earlier record and cut exactly the torn one.
func TestTornTailEveryOffset(t *testing.T) {
	zxids := span(1, 6)
	starts, end := recordOffsets(zxids)
	last := starts[len(starts)-1]

	type damage struct {
		name   string
		opts   Options
		apply  func(b []byte, k int64) []byte
		intact func(k int64) bool // the last record is still there at all
	}
	damages := []damage{
		{"truncated", Options{PreAllocSize: -1, ForceSync: true},
			func(b []byte, k int64) []byte { return b[:k] }, nil},
		{"unwritten", smallOpts(),
			func(b []byte, k int64) []byte { clear(b[k:end]); return b }, nil},
		{"garbage", smallOpts(),
			func(b []byte, k int64) []byte {
				for i := k; i < end; i++ {
					b[i] = byte(0xa5 ^ i)
				}
				return b
			}, nil},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLog(t, dir, d.opts, zxids)
			path := filepath.Join(dir, LogName(1))
			orig := mustRead(t, path)
			for k := last; k < end; k++ {
				b := d.apply(append([]byte(nil), orig...), k)
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				// A write torn before its first non-zero byte (the
				// checksum's high 32 bits are always zero) left nothing:
				// the log simply ends after the previous record.
				clean := allZero(orig[last:k]) && d.name != "garbage"

				_, err := readAll(t, dir, 0)
				if clean {
					if err != nil {
						t.Fatalf("k=%d: %v", k, err)
					}
				} else if !errors.Is(err, ErrTornTail) {
					t.Fatalf("k=%d: ReadFrom = %v, want ErrTornTail", k, err)
				}

				rep, err := Repair(dir, nil)
				if err != nil {
					t.Fatalf("k=%d: Repair: %v", k, err)
				}
				if rep.LastZxid != 5 {
					t.Fatalf("k=%d: LastZxid %d, want 5", k, rep.LastZxid)
				}
				if clean {
					if rep.Cut() {
						t.Fatalf("k=%d: cut %+v from a cleanly ending log", k, rep)
					}
				} else {
					if rep.File != "log.1" || rep.Offset != last || rep.Bytes != int64(len(b))-last {
						t.Fatalf("k=%d: report %+v, want log.1 cut at %d, %d bytes", k, rep, last, int64(len(b))-last)
					}
					st, err := os.Stat(path)
					if err != nil || st.Size() != last {
						t.Fatalf("k=%d: file after repair: %v, %v; want %d bytes", k, st.Size(), err, last)
					}
					if !bytes.Equal(mustRead(t, path), orig[:last]) {
						t.Fatalf("k=%d: repair changed the records it kept", k)
					}
				}
				got, err := readAll(t, dir, 0)
				if err != nil || !slices.Equal(got, span(1, 5)) {
					t.Fatalf("k=%d: after repair read %v, %v; want 1..5", k, got, err)
				}
			}
		})
	}
}

// TestFlippedByteIsCorruption flips every byte of an earlier record in
// turn: each time ReadFrom and Repair must say ErrCorrupt, and Repair must
// change nothing.
func TestFlippedByteIsCorruption(t *testing.T) {
	for _, prealloc := range []int64{-1, 64 << 10} {
		dir := t.TempDir()
		zxids := span(1, 5)
		writeLog(t, dir, Options{PreAllocSize: prealloc, ForceSync: true}, zxids)
		starts, _ := recordOffsets(zxids)
		path := filepath.Join(dir, LogName(1))
		orig := mustRead(t, path)
		victim := starts[2] // zxid 3
		for k := victim; k < starts[3]; k++ {
			b := append([]byte(nil), orig...)
			b[k] ^= 0x40
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, dir, 0)
			re, ok := errIsRecord(err)
			if !errors.Is(err, ErrCorrupt) || !ok || re.Offset != victim || re.File != "log.1" || re.LastZxid != 2 {
				t.Fatalf("prealloc %d, byte %d: ReadFrom = %v (read %v), want ErrCorrupt at log.1 offset %d", prealloc, k, err, got, victim)
			}
			if !slices.Equal(got, []int64{1, 2}) {
				t.Fatalf("byte %d: delivered %v before the damage, want [1 2]", k, got)
			}
			if _, err := Repair(dir, nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d: Repair = %v, want ErrCorrupt", k, err)
			}
			if !bytes.Equal(mustRead(t, path), b) {
				t.Fatalf("byte %d: Repair modified a corrupt log", k)
			}
		}
	}
}

func TestCorruptionMessage(t *testing.T) {
	dir := t.TempDir()
	zxids := span(0x100000001, 0x100000004)
	writeLog(t, dir, smallOpts(), zxids)
	starts, _ := recordOffsets(zxids)
	path := filepath.Join(dir, "log.100000001")
	b := mustRead(t, path)
	b[starts[1]+20] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := readAll(t, dir, 0x100000000)
	p := payloadFor(0x100000002)
	stored := adler32.Checksum(p)
	p[8] ^= 1 // record byte 20 is payload byte 8
	want := fmt.Sprintf("wal: log.100000001 at offset %d: checksum mismatch: stored %#x, computed %#x (corrupt; valid record follows at log.100000001 offset %d)",
		starts[1], stored, adler32.Checksum(p), starts[2])
	if err == nil || err.Error() != want {
		t.Fatalf("error %q\nwant       %q", err, want)
	}
}

func TestRepairMultiFile(t *testing.T) {
	t.Run("torn first record of newest file removes it", func(t *testing.T) {
		dir := t.TempDir()
		writeLog(t, dir, smallOpts(), span(1, 5), span(6, 6))
		path := filepath.Join(dir, LogName(6))
		b := mustRead(t, path)
		clear(b[headerSize+20 : headerSize+40])
		os.WriteFile(path, b, 0o644)
		rep, err := Repair(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.File != "" || !slices.Equal(rep.Removed, []string{"log.6"}) || rep.LastZxid != 5 {
			t.Fatalf("report %+v, want log.6 removed, last zxid 5", rep)
		}
		if got := fileNames(t, dir); !slices.Equal(got, []string{"log.1"}) {
			t.Fatalf("files %v", got)
		}
	})
	t.Run("header-only and empty newest files", func(t *testing.T) {
		dir := t.TempDir()
		writeLog(t, dir, smallOpts(), span(1, 5))
		os.WriteFile(filepath.Join(dir, LogName(6)), appendFileHeader(nil), 0o644)
		os.WriteFile(filepath.Join(dir, LogName(7)), nil, 0o644)
		os.WriteFile(filepath.Join(dir, LogName(8)), []byte("ZK"), 0o644) // torn header
		rep, err := Repair(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rep.Removed, []string{"log.8", "log.7", "log.6"}) || rep.LastZxid != 5 || rep.File != "" {
			t.Fatalf("report %+v", rep)
		}
		// Writing continues at 6 in a new file of that name.
		writeLog(t, dir, smallOpts(), span(6, 7))
		if got, err := readAll(t, dir, 0); err != nil || !slices.Equal(got, span(1, 7)) {
			t.Fatalf("read %v, %v", got, err)
		}
	})
	t.Run("torn tail in older file with empty newer file", func(t *testing.T) {
		dir := t.TempDir()
		writeLog(t, dir, Options{PreAllocSize: -1, ForceSync: true}, span(1, 5))
		path := filepath.Join(dir, LogName(1))
		b := mustRead(t, path)
		os.WriteFile(path, b[:len(b)-3], 0o644)
		os.WriteFile(filepath.Join(dir, LogName(6)), appendFileHeader(nil), 0o644)
		rep, err := Repair(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		starts, _ := recordOffsets(span(1, 5))
		if rep.File != "log.1" || rep.Offset != starts[4] || !slices.Equal(rep.Removed, []string{"log.6"}) || rep.LastZxid != 4 {
			t.Fatalf("report %+v", rep)
		}
	})
	t.Run("torn tail in older file with records in newer file is corruption", func(t *testing.T) {
		dir := t.TempDir()
		writeLog(t, dir, Options{PreAllocSize: -1, ForceSync: true}, span(1, 5), span(6, 8))
		path := filepath.Join(dir, LogName(1))
		b := mustRead(t, path)
		os.WriteFile(path, b[:len(b)-3], 0o644)
		_, err := readAll(t, dir, 0)
		re, _ := errIsRecord(err)
		if !errors.Is(err, ErrCorrupt) || re == nil || re.Next != "log.6 offset 16" {
			t.Fatalf("ReadFrom = %v, want ErrCorrupt with valid record in log.6", err)
		}
		// Repair looks at the newest file, which is fine; the damage is
		// for the reader (and the operator) to see.
		if rep, err := Repair(dir, nil); err != nil || rep.Cut() {
			t.Fatalf("Repair = %+v, %v", rep, err)
		}
	})
	t.Run("non-zero bytes after the end marker", func(t *testing.T) {
		dir := t.TempDir()
		writeLog(t, dir, smallOpts(), span(1, 3))
		path := filepath.Join(dir, LogName(1))
		_, end := recordOffsets(span(1, 3))
		b := mustRead(t, path)
		copy(b[end+100:], "garbage")
		os.WriteFile(path, b, 0o644)
		_, err := readAll(t, dir, 0)
		if !errors.Is(err, ErrTornTail) || !strings.Contains(err.Error(), "non-zero bytes after end of log: end-of-log marker, then non-zero byte at offset") {
			t.Fatalf("ReadFrom = %v", err)
		}
		rep, err := Repair(dir, nil)
		if err != nil || rep.File != "log.1" || rep.Offset != end || rep.Garbage != 107 {
			t.Fatalf("Repair = %+v, %v; want cut at %d with 107 bytes of garbage", rep, err, end)
		}
		// A whole valid record after a hole of zeros: a lost write in the
		// middle of history, not a torn tail.
		dir = t.TempDir()
		writeLog(t, dir, smallOpts(), span(1, 3))
		b = mustRead(t, path2(dir))
		copy(b[end+100:], appendRecord(nil, payloadFor(4)))
		os.WriteFile(path2(dir), b, 0o644)
		if _, err := readAll(t, dir, 0); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("ReadFrom with a record after a hole = %v, want ErrCorrupt", err)
		}
		if _, err := Repair(dir, nil); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Repair with a record after a hole = %v, want ErrCorrupt", err)
		}
	})
}

func path2(dir string) string { return filepath.Join(dir, LogName(1)) }

func TestGapDetection(t *testing.T) {
	e1, e2 := int64(1)<<32, int64(2)<<32
	t.Run("missing file", func(t *testing.T) {
		dir := t.TempDir()
		writeLog(t, dir, smallOpts(), span(e1+1, e1+5), span(e1+6, e1+10), span(e1+11, e1+15))
		os.Remove(filepath.Join(dir, "log.100000006"))
		_, err := readAll(t, dir, 0)
		if !errors.Is(err, ErrGap) || err.Error() != "wal: log.10000000b at offset 16: zxid 0x10000000b after 0x100000005: 5 txns missing" {
			t.Fatalf("ReadFrom = %v", err)
		}
		// Reading from a zxid the surviving files cover is fine.
		if got, err := readAll(t, dir, e1+10); err != nil || !slices.Equal(got, span(e1+11, e1+15)) {
			t.Fatalf("ReadFrom(e1+10) = %x, %v", got, err)
		}
		// But not from one inside the hole.
		if _, err := readAll(t, dir, e1+7); !errors.Is(err, ErrGap) {
			t.Fatalf("ReadFrom(e1+7) = %v, want ErrGap", err)
		}
	})
	t.Run("log starts after the snapshot", func(t *testing.T) {
		dir := t.TempDir()
		writeLog(t, dir, smallOpts(), span(e1+20, e1+25))
		_, err := readAll(t, dir, e1+10)
		if !errors.Is(err, ErrGap) || !strings.Contains(err.Error(), "zxid 0x100000014 after 0x10000000a: 9 txns missing") {
			t.Fatalf("ReadFrom = %v", err)
		}
		if _, err := readAll(t, dir, 0); !errors.Is(err, ErrGap) {
			t.Fatalf("ReadFrom(0) = %v, want ErrGap", err)
		}
	})
	t.Run("missing txns within a file", func(t *testing.T) {
		dir := t.TempDir()
		writeLog(t, dir, smallOpts(), []int64{1, 2, 3, 5, 6})
		got, err := readAll(t, dir, 0)
		if !errors.Is(err, ErrGap) || !slices.Equal(got, []int64{1, 2, 3}) {
			t.Fatalf("ReadFrom = %v, %v", got, err)
		}
		re, _ := errIsRecord(err)
		if re == nil || re.LastZxid != 3 {
			t.Fatalf("error %#v, want LastZxid 3", re)
		}
	})
	t.Run("epochs", func(t *testing.T) {
		dir := t.TempDir()
		writeLog(t, dir, smallOpts(), append(span(e1+1, e1+3), span(e2+1, e2+2)...))
		if got, err := readAll(t, dir, 0); err != nil || len(got) != 5 {
			t.Fatalf("new epoch at counter 1: %x, %v", got, err)
		}
		dir = t.TempDir()
		writeLog(t, dir, smallOpts(), append(span(e1+1, e1+3), e2+2))
		_, err := readAll(t, dir, 0)
		if !errors.Is(err, ErrGap) || !strings.Contains(err.Error(), "a new epoch starts at counter 1") {
			t.Fatalf("new epoch at counter 2: %v", err)
		}
	})
	t.Run("out of order", func(t *testing.T) {
		dir := t.TempDir()
		b := appendFileHeader(nil)
		for _, z := range []int64{1, 2, 2} {
			b = appendRecord(b, payloadFor(z))
		}
		os.WriteFile(filepath.Join(dir, LogName(1)), b, 0o644)
		if _, err := readAll(t, dir, 0); !errors.Is(err, ErrGap) || !strings.Contains(err.Error(), "out of order") {
			t.Fatalf("ReadFrom = %v", err)
		}
	})
	t.Run("file name disagrees with its first txn", func(t *testing.T) {
		dir := t.TempDir()
		b := appendRecord(appendFileHeader(nil), payloadFor(2))
		os.WriteFile(filepath.Join(dir, LogName(1)), b, 0o644)
		if _, err := readAll(t, dir, 0); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("ReadFrom = %v, want ErrCorrupt", err)
		}
	})
}

func TestTruncate(t *testing.T) {
	layout := [][]int64{span(1, 5), span(6, 10), span(11, 15)}
	tests := []struct {
		zxid  int64
		files []string
	}{
		{15, []string{"log.1", "log.6", "log.b"}},
		{12, []string{"log.1", "log.6", "log.b"}},
		{11, []string{"log.1", "log.6", "log.b"}},
		{10, []string{"log.1", "log.6"}},
		{7, []string{"log.1", "log.6"}},
		{5, []string{"log.1"}},
		{1, []string{"log.1"}},
		{0, nil},
		{99, []string{"log.1", "log.6", "log.b"}},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		writeLog(t, dir, smallOpts(), layout...)
		if err := Truncate(dir, tt.zxid); err != nil {
			t.Fatalf("Truncate(%d): %v", tt.zxid, err)
		}
		if got := fileNames(t, dir); !slices.Equal(got, tt.files) {
			t.Errorf("Truncate(%d): files %v, want %v", tt.zxid, got, tt.files)
		}
		want := span(1, min(tt.zxid, 15))
		got, err := readAll(t, dir, 0)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Truncate(%d): read %v, %v; want %v", tt.zxid, got, err, want)
		}
		// History continues after the cut, in a new file.
		next := min(tt.zxid, 15) + 1
		writeLog(t, dir, smallOpts(), span(next, next+2))
		got, err = readAll(t, dir, 0)
		if err != nil || !slices.Equal(got, span(1, next+2)) {
			t.Errorf("Truncate(%d) then append: read %v, %v", tt.zxid, got, err)
		}
	}
	if err := Truncate(t.TempDir(), 5); err != nil {
		t.Errorf("Truncate of an empty log: %v", err)
	}
}

func TestRecover(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, Options{PreAllocSize: -1, ForceSync: true}, span(1, 5))
	b := mustRead(t, path2(dir))
	os.WriteFile(path2(dir), b[:len(b)-1], 0o644)
	var got []int64
	rep, err := Recover(dir, 2, nil, func(z int64, _ []byte) error { got = append(got, z); return nil })
	if err != nil || !slices.Equal(got, []int64{3, 4}) || rep.File != "log.1" {
		t.Fatalf("Recover = %+v, %v, read %v", rep, err, got)
	}
	stop := errors.New("stop here")
	err = ReadFrom(dir, 0, func(z int64, _ []byte) error {
		if z == 2 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("callback error came back as %v", err)
	}
}

// errIsRecord returns err's *RecordError, if it has one.
func errIsRecord(err error) (*RecordError, bool) {
	var re *RecordError
	ok := errors.As(err, &re)
	return re, ok
}

// FuzzRepair writes arbitrary bytes as a log file. Whatever they are,
// Repair either refuses with ErrCorrupt or leaves a log that reads without
// a torn tail, and it keeps every txn the reader could read before.
func FuzzRepair(f *testing.F) {
	valid := appendFileHeader(nil)
	for z := int64(1); z <= 4; z++ {
		valid = appendRecord(valid, payloadFor(z))
	}
	f.Add(append(valid, make([]byte, 300)...))
	f.Add(valid[:len(valid)-7])
	f.Add(append(append([]byte(nil), valid...), 0, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 2, 'B'))
	f.Add(appendFileHeader(nil))
	f.Add([]byte("ZKLG"))
	quiet := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, LogName(1)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		collect := func(out *[]int64) func(int64, []byte) error {
			return func(z int64, _ []byte) error { *out = append(*out, z); return nil }
		}
		var before, after []int64
		errBefore := ReadFrom(dir, 0, collect(&before))
		_, err := Repair(dir, quiet)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Repair failed with %v, want only ErrCorrupt refusals", err)
			}
			if !bytes.Equal(mustRead(t, filepath.Join(dir, LogName(1))), b) {
				t.Fatalf("Repair refused but changed the file")
			}
			return
		}
		errAfter := ReadFrom(dir, 0, collect(&after))
		if errors.Is(errAfter, ErrTornTail) {
			t.Fatalf("torn tail left after Repair: %v", errAfter)
		}
		if errBefore == nil || errors.Is(errBefore, ErrTornTail) {
			if errAfter != nil || !slices.Equal(before, after) {
				t.Fatalf("before repair read %v (%v); after, %v (%v)", before, errBefore, after, errAfter)
			}
		}
	})
}
