package wal

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeRaw writes a log file named after its first zxid holding the
// records of zxids in that order, as upstream's FileTxnLog writes whatever
// it is handed (steps back included), with payloadFor's payloads and
// preallocated zeros after them.
func writeRaw(t *testing.T, dir string, zxids []int64) {
	t.Helper()
	b := appendFileHeader(nil)
	for _, z := range zxids {
		b = appendRecord(b, payloadFor(z))
	}
	b = append(b, make([]byte, 4096)...)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, LogName(zxids[0])), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func seq(parts ...[]int64) []int64 { return slices.Concat(parts...) }

// zx is a zxid of epoch e.
func zx(e, counter int64) int64 { return e<<32 | counter }

// A Java follower that synced again with the same leader logs the txns
// after the one it had applied a second time: Recover reads the single
// history, ReadFrom alone refuses the log.
func TestRecoverDropsReplays(t *testing.T) {
	e1 := func(from, to int64) []int64 { return span(zx(1, from), zx(1, to)) }
	for _, tc := range []struct {
		name       string
		files      [][]int64
		want       []int64
		dups, gone int
		names      []string
	}{{
		name:  "same leader, replay runs past the end",
		files: [][]int64{seq(e1(1, 10), e1(5, 15))},
		want:  e1(1, 15), dups: 6,
		names: []string{LogName(zx(1, 1))},
	}, {
		name:  "replay ends with the log",
		files: [][]int64{seq(e1(1, 10), e1(5, 7))},
		want:  e1(1, 10), dups: 3,
		names: []string{LogName(zx(1, 1))},
	}, {
		// The leader synced with again had no 8..10 of epoch 1: they were
		// proposals it never committed, and its epoch 2 follows 7.
		name:  "replay goes on with a new epoch",
		files: [][]int64{seq(e1(1, 10), e1(5, 7), span(zx(2, 1), zx(2, 3)))},
		want:  seq(e1(1, 7), span(zx(2, 1), zx(2, 3))), dups: 3, gone: 3,
		names: []string{LogName(zx(1, 1))},
	}, {
		name:  "a later file starts with a replay",
		files: [][]int64{e1(1, 10), e1(8, 15)},
		want:  e1(1, 15), dups: 3,
		names: []string{LogName(zx(1, 1)), LogName(zx(1, 11))},
	}, {
		name:  "a later file holds nothing but a replay",
		files: [][]int64{e1(1, 10), e1(8, 10)},
		want:  e1(1, 10), dups: 3,
		names: []string{LogName(zx(1, 1))},
	}, {
		name:  "two replays",
		files: [][]int64{seq(e1(1, 10), e1(3, 12), e1(11, 20))},
		want:  e1(1, 20), dups: 10,
		names: []string{LogName(zx(1, 1))},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "version-2")
			for _, f := range tc.files {
				writeRaw(t, dir, f)
			}
			if _, err := readAll(t, dir, 0); !errors.Is(err, ErrGap) {
				t.Fatalf("ReadFrom before: %v, want ErrGap", err)
			}
			var got []int64
			rep, err := Recover(dir, 0, nil, func(z int64, rec []byte) error {
				got = append(got, z)
				return nil
			})
			if err != nil {
				t.Fatalf("Recover: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("recovered %x, want %x", got, tc.want)
			}
			r := rep.Replays
			if r.Duplicates != tc.dups || r.Superseded != tc.gone || !r.Changed() {
				t.Errorf("report %+v: want %d duplicates and %d superseded dropped", r, tc.dups, tc.gone)
			}
			if names := fileNames(t, dir); !slices.Equal(names, tc.names) {
				t.Errorf("files %v, want %v", names, tc.names)
			}
			// The rewritten log reads on its own, and a second run finds
			// nothing to do.
			if after, err := readAll(t, dir, 0); err != nil || !slices.Equal(after, tc.want) {
				t.Errorf("ReadFrom after: %x, %v", after, err)
			}
			if again, err := DropReplays(dir, 0, nil); err != nil || again.Changed() || again.Rewinds != 0 {
				t.Errorf("second DropReplays: %+v, %v", again, err)
			}
		})
	}
}

// What DropReplays cannot make one history of it leaves alone, with an
// error naming the place.
func TestDropReplaysRefuses(t *testing.T) {
	e1 := func(from, to int64) []int64 { return span(zx(1, from), zx(1, to)) }
	for _, tc := range []struct {
		name    string
		zxids   []int64
		payload map[int64][]byte // the replayed copy's payload, by zxid
		want    error
	}{
		{"another txn under a logged zxid", seq(e1(1, 10), e1(5, 6)),
			map[int64][]byte{zx(1, 5): txn(zx(1, 5), "/other", []byte("other"))}, ErrCorrupt},
		{"back to before the log", seq(e1(5, 10), e1(2, 12)), nil, ErrGap},
		{"a replay that skips", seq(e1(1, 10), e1(4, 5), e1(8, 12)), nil, ErrGap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "version-2")
			b := appendFileHeader(nil)
			seen := map[int64]bool{}
			for _, z := range tc.zxids {
				p := payloadFor(z)
				if q, ok := tc.payload[z]; ok && seen[z] {
					p = q
				}
				seen[z] = true
				b = appendRecord(b, p)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, LogName(tc.zxids[0]))
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := DropReplays(dir, 0, nil)
			var re *RecordError
			if !errors.Is(err, tc.want) || !errors.As(err, &re) || re.File != LogName(tc.zxids[0]) {
				t.Fatalf("DropReplays: %v, want %v naming the file", err, tc.want)
			}
			if after, err := os.ReadFile(path); err != nil || string(after) != string(b) {
				t.Errorf("the log changed (%v): want it untouched", err)
			}
			if names := fileNames(t, dir); len(names) != 1 {
				t.Errorf("files %v: want the one log file alone", names)
			}
		})
	}
}
