package wal

import (
	"cmp"
	"fmt"
	"hash/adler32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
)

// A replay is a stretch of a log that repeats txns the log already holds.
// Upstream's FileTxnLog appends whatever it is handed, warning "Current
// zxid X is <= Y" and writing anyway. A Java follower that loses its leader
// and syncs again in the same process is sent the txns after the last one
// it had applied, which may lag the last one it had logged by thousands,
// and logs them a second time into the same open file. Upstream's recovery
// then applies every record in file order, logging an error at each step
// back. This package's reader refuses a log whose zxids go back
// (ErrGap), so DropReplays, which Recover runs first, rewrites such a log
// into the single history it stands for.

// ReplayReport says what DropReplays found and changed.
type ReplayReport struct {
	// Rewinds counts the places where the log went back to a zxid it had
	// already logged.
	Rewinds int
	// Duplicates counts the records dropped because the log held the same
	// txn (same zxid, same bytes) before them.
	Duplicates int
	// Superseded counts the records dropped because a replay went on with
	// another history instead of repeating them: proposals of an old epoch
	// that the leader the server synced with again did not have.
	Superseded int
	// Rewritten lists the files rewritten ("log.a -> log.b" when the name
	// changed because the file started with a replay); Removed the files
	// dropped because they held nothing else.
	Rewritten, Removed []string
}

// Changed reports whether DropReplays rewrote anything.
func (r ReplayReport) Changed() bool { return len(r.Rewritten) > 0 || len(r.Removed) > 0 }

// loggedTxn is where one record of the log is, and what it holds.
type loggedTxn struct {
	file   int   // index into the files read
	off    int64 // offset of the framed record
	framed int   // its length, framing included
	zxid   int64
	sum    uint32 // Adler-32 of the payload
	size   int    // payload length
}

func (a loggedTxn) sameTxn(b loggedTxn) bool { return a.sum == b.sum && a.size == b.size }

// DropReplays reads the log in dir from the file holding fromZxid on and,
// if its zxids ever go back, rewrites the files concerned so that they hold
// one continuous history (each file fsynced, renamed into place, the
// directory fsynced; a crash part-way leaves either version of a file,
// which a second run reads the same way). The history kept is:
//
//   - a record repeating an earlier one (same zxid) is dropped; the two must
//     hold the same bytes, as in Zab one epoch has one leader, or the log is
//     refused (*RecordError, ErrCorrupt);
//   - when a replay, instead of repeating the next record, goes on with
//     another (a new epoch's first txn), the earlier records it did not
//     repeat are dropped: the leader it synced with again did not have them,
//     so they were never committed, and upstream, which applies them, ends
//     up with a different tree than that leader;
//   - a replay that ends with the log, before repeating everything, keeps
//     what it did not repeat: those txns may be committed, and the server
//     advertises them in the election and at the next sync, where a leader
//     that lacks them truncates them (TRUNC).
//
// A step back to a zxid the files read do not hold is a gap (ErrGap). A
// damaged record stops the reading: DropReplays then changes nothing and
// leaves the error to ReadFrom. Every change is logged as a warning.
func DropReplays(dir string, fromZxid int64, logger *slog.Logger) (ReplayReport, error) {
	if logger == nil {
		logger = slog.Default()
	}
	var rep ReplayReport
	all, err := listLogFiles(dir)
	if err != nil {
		return rep, err
	}
	files := filesFrom(all, fromZxid)
	var txns []loggedTxn
	for i, lf := range files {
		res, err := scanFile(lf, func(off, zxid int64, payload []byte) error {
			txns = append(txns, loggedTxn{file: i, off: off, framed: recordOverhead + len(payload),
				zxid: zxid, sum: adler32.Checksum(payload), size: len(payload)})
			return nil
		})
		if err != nil {
			return rep, err
		}
		if res.problem != nil {
			return ReplayReport{}, nil // ReadFrom reports it
		}
	}
	kept, err := history(txns, files, &rep)
	if err != nil || rep.Rewinds == 0 {
		return ReplayReport{}, err
	}
	if err := rewrite(dir, files, txns, kept, &rep); err != nil {
		return rep, err
	}
	logger.Warn("wal: dropped txns logged a second time (a Java server synced again with its leader and re-logged what it had not yet applied)",
		"rewinds", rep.Rewinds, "duplicates", rep.Duplicates, "superseded", rep.Superseded,
		"rewritten", rep.Rewritten, "removed", rep.Removed)
	return rep, nil
}

// history picks the records of txns (in file order) that make one
// continuous history, as DropReplays describes: kept[i] says whether
// txns[i] stays. It counts what it drops in rep.
func history(txns []loggedTxn, files []logFile, rep *ReplayReport) ([]bool, error) {
	kept := make([]bool, len(txns))
	// eff holds indices into txns: eff[:end] is the history so far;
	// eff[end:] the records a replay in progress has yet to repeat.
	var eff []int
	end := 0
	for i, t := range txns {
		if end < len(eff) && t.zxid == txns[eff[end]].zxid {
			if err := sameOrCorrupt(txns[eff[end]], t, files); err != nil {
				return nil, err
			}
			end++
			rep.Duplicates++
			continue
		}
		if end > 0 && t.zxid <= txns[eff[end-1]].zxid {
			j, found := slices.BinarySearchFunc(eff[:end], t.zxid, func(k int, z int64) int {
				return cmp.Compare(txns[k].zxid, z)
			})
			if !found {
				return nil, gapError(files[t.file], t.off, txns[eff[end-1]].zxid, t.zxid)
			}
			if err := sameOrCorrupt(txns[eff[j]], t, files); err != nil {
				return nil, err
			}
			end = j + 1
			rep.Rewinds++
			rep.Duplicates++
			continue
		}
		if end < len(eff) {
			for _, k := range eff[end:] {
				kept[k] = false
			}
			rep.Superseded += len(eff) - end
			eff = eff[:end]
		}
		if end > 0 && !follows(txns[eff[end-1]].zxid, t.zxid) {
			return nil, gapError(files[t.file], t.off, txns[eff[end-1]].zxid, t.zxid)
		}
		eff = append(eff, i)
		kept[i] = true
		end = len(eff)
	}
	return kept, nil
}

// sameOrCorrupt checks that a record repeating an earlier zxid repeats its
// txn.
func sameOrCorrupt(first, again loggedTxn, files []logFile) error {
	if first.sameTxn(again) {
		return nil
	}
	return &RecordError{File: files[again.file].name, Offset: again.off, Kind: ErrCorrupt, LastZxid: -1,
		Reason: fmt.Errorf("zxid %#x logged again with other bytes (first in %s at offset %d): two txns cannot share a zxid",
			again.zxid, files[first.file].name, first.off)}
}

// rewrite writes every file of files that loses records as a file holding
// only its kept records, named after the first of them, and removes the
// files left with none.
func rewrite(dir string, files []logFile, txns []loggedTxn, kept []bool, rep *ReplayReport) error {
	byFile := make([][]loggedTxn, len(files))
	lost := make([]bool, len(files))
	for i, t := range txns {
		if kept[i] {
			byFile[t.file] = append(byFile[t.file], t)
		} else {
			lost[t.file] = true
		}
	}
	for i, lf := range files {
		if !lost[i] {
			continue
		}
		if len(byFile[i]) == 0 {
			if err := os.Remove(lf.path); err != nil {
				return fmt.Errorf("wal: drop replays: %w", err)
			}
			rep.Removed = append(rep.Removed, lf.name)
			continue
		}
		name := LogName(byFile[i][0].zxid)
		if err := rewriteFile(dir, lf, name, byFile[i]); err != nil {
			return err
		}
		if name != lf.name {
			if err := os.Remove(lf.path); err != nil {
				return fmt.Errorf("wal: drop replays: %w", err)
			}
			rep.Rewritten = append(rep.Rewritten, lf.name+" -> "+name)
		} else {
			rep.Rewritten = append(rep.Rewritten, name)
		}
	}
	return syncDir(dir)
}

// rewriteFile writes a log file named name in dir holding recs, copied
// from lf, through a temporary file that is fsynced and renamed into
// place.
func rewriteFile(dir string, lf logFile, name string, recs []loggedTxn) error {
	src, err := os.ReadFile(lf.path)
	if err != nil {
		return fmt.Errorf("wal: drop replays: %w", err)
	}
	out := appendFileHeader(nil)
	for _, r := range recs {
		end := r.off + int64(r.framed)
		if end > int64(len(src)) || adler32.Checksum(src[r.off+recordHeaderSize:end-1]) != r.sum {
			return fmt.Errorf("wal: drop replays: %s changed while being rewritten", lf.name)
		}
		out = append(out, src[r.off:end]...)
	}
	dst := filepath.Join(dir, name)
	if name != lf.name {
		if _, err := os.Stat(dst); err == nil {
			return fmt.Errorf("wal: drop replays: %s would become %s, which exists", lf.name, name)
		}
	}
	tmp := filepath.Join(dir, ".replays-"+name+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("wal: drop replays: %w", err)
	}
	_, err = f.Write(out)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("wal: drop replays: %w", err)
	}
	return nil
}
