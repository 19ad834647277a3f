package wal

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
)

// RepairReport says what Repair found and cut.
type RepairReport struct {
	// File is the file that was cut, "" when nothing was cut from a file
	// that keeps records.
	File string
	// Offset is where File now ends: the end of its last valid record.
	Offset int64
	// Bytes is how many bytes were cut from File (torn data and the
	// preallocated zeros after it); Garbage is how many of them, up to the
	// last non-zero byte, held the torn write.
	Bytes, Garbage int64
	// Reason says what was wrong at Offset, e.g. "checksum mismatch ...".
	Reason string
	// Removed lists the newest files removed because they held no valid
	// record (empty, header only, or torn from the start).
	Removed []string
	// LastZxid is the zxid of the last valid txn in the log after repair,
	// or -1 when the log is empty.
	LastZxid int64
	// Replays is what Recover's DropReplays dropped (Repair leaves it
	// zero).
	Replays ReplayReport
}

// Cut reports whether Repair changed anything.
func (r RepairReport) Cut() bool { return r.File != "" || len(r.Removed) > 0 }

// Repair makes the log in dir end cleanly after a crash. It looks at the
// newest file: a torn tail (a bad or partial record, or non-zero bytes after
// the end marker, with no valid record after it) is cut by truncating the
// file at the end of its last valid record and fsyncing it. A newest file
// left with no valid record is removed, and the file before it is examined
// the same way. A damaged record followed by a valid one is not a torn tail:
// Repair changes nothing and returns a *RecordError wrapping ErrCorrupt.
//
// Repair reads only the newest files; ReadFrom checks the rest of the
// history. Every cut is logged as a warning (to slog.Default() when logger
// is nil).
func Repair(dir string, logger *slog.Logger) (RepairReport, error) {
	if logger == nil {
		logger = slog.Default()
	}
	rep := RepairReport{LastZxid: -1}
	files, err := listLogFiles(dir)
	if err != nil {
		return rep, err
	}
	var removed []logFile // newest first
	for len(files) > 0 {
		lf := files[len(files)-1]
		res, err := scanFile(lf, func(int64, int64, []byte) error { return nil })
		if err != nil {
			return rep, err
		}
		p := res.problem
		if p != nil {
			p.LastZxid = res.lastZxid
			if err := classify(p, lf, nil); err != nil {
				return rep, err
			}
			if p.Kind == ErrCorrupt {
				return rep, p
			}
		}
		if res.records > 0 {
			rep.LastZxid = res.lastZxid
			if p != nil {
				rep.File, rep.Offset, rep.Reason = lf.name, res.end, p.Reason.Error()
				rep.Bytes = res.size - res.end
				if rep.Garbage, err = garbageAfter(lf, res.end, res.size); err != nil {
					return rep, err
				}
			}
			break
		}
		if p != nil && rep.Reason == "" {
			rep.Reason = p.Reason.Error()
		}
		removed = append(removed, lf)
		files = files[:len(files)-1]
	}
	if !rep.Cut() && len(removed) == 0 {
		return rep, nil
	}
	// Remove the record-less newest files first, newest first, then cut:
	// every intermediate state on disk is a prefix of the history.
	for _, lf := range removed {
		if err := os.Remove(lf.path); err != nil {
			return rep, fmt.Errorf("wal: repair: %w", err)
		}
		rep.Removed = append(rep.Removed, lf.name)
		logger.Warn("wal: removed log file holding no valid txn (crash while it was created?)", "file", lf.name)
	}
	if len(removed) > 0 {
		if err := syncDir(dir); err != nil {
			return rep, err
		}
	}
	if rep.File != "" {
		if err := truncateFile(filepath.Join(dir, rep.File), rep.Offset); err != nil {
			return rep, err
		}
		logger.Warn("wal: cut torn tail of transaction log (unfinished write from a crash; never acknowledged)",
			"file", rep.File, "offset", rep.Offset, "bytes", rep.Bytes, "garbage", rep.Garbage,
			"reason", rep.Reason, "last_zxid", fmt.Sprintf("%#x", rep.LastZxid))
	}
	return rep, nil
}

// garbageAfter counts the bytes in [from, size) up to the last non-zero one.
func garbageAfter(lf logFile, from, size int64) (int64, error) {
	b, err := os.ReadFile(lf.path)
	if err != nil {
		return 0, fmt.Errorf("wal: %w", err)
	}
	b = b[min(from, int64(len(b))):min(size, int64(len(b)))]
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0 {
			return int64(i + 1), nil
		}
	}
	return 0, nil
}

// truncateFile cuts path to size bytes and fsyncs it.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	return f.Close()
}

// Truncate drops every txn after zxid from the log in dir (Zab's TRUNC):
// files that start after zxid are deleted, newest first, and the file
// holding zxid is cut just after it (or deleted if it then holds no txn).
// Every intermediate state on disk is a prefix of the history. No Log may
// be open on dir. A damaged record met before the cut point is returned as
// a *RecordError.
func Truncate(dir string, zxid int64) error {
	files, err := listLogFiles(dir)
	if err != nil {
		return err
	}
	k := -1 // the newest file starting at or before zxid
	for i, f := range files {
		if f.zxid <= zxid {
			k = i
		}
	}
	later := files[k+1:]
	var cut int64 = -1
	found := false // a txn after zxid was found in files[k]
	if k >= 0 {
		lf := files[k]
		res, err := scanFile(lf, func(off, z int64, _ []byte) error {
			if z > zxid {
				cut, found = off, true
				return errStop
			}
			return nil
		})
		if err != nil {
			return err
		}
		if cut < 0 {
			if p := res.problem; p != nil {
				p.LastZxid = res.lastZxid
				if err := classify(p, lf, later); err != nil {
					return err
				}
				return fmt.Errorf("wal: truncate to %#x: %w", zxid, p)
			}
			cut = res.end // zxid is at or after the end of this file
		}
	}
	for _, lf := range slices.Backward(later) {
		if err := os.Remove(lf.path); err != nil {
			return fmt.Errorf("wal: truncate: %w", err)
		}
	}
	if k < 0 {
		return syncDirIf(dir, len(later) > 0)
	}
	lf := files[k]
	if cut <= headerSize {
		if err := os.Remove(lf.path); err != nil {
			return fmt.Errorf("wal: truncate: %w", err)
		}
		return syncDir(dir)
	}
	if err := syncDirIf(dir, len(later) > 0); err != nil {
		return err
	}
	st, err := os.Stat(lf.path)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	if st.Size() == cut || !found {
		return nil // nothing after zxid in this file (zeros may follow)
	}
	return truncateFile(lf.path, cut)
}

func syncDirIf(dir string, cond bool) error {
	if !cond {
		return nil
	}
	return syncDir(dir)
}

// Recover prepares the log in dir after a restart: it runs Repair, then
// DropReplays(dir, fromZxid) (a log upstream Java wrote may log txns twice),
// then ReadFrom(dir, fromZxid, fn). It returns what Repair cut and what
// DropReplays dropped.
func Recover(dir string, fromZxid int64, logger *slog.Logger, fn func(zxid int64, rec []byte) error) (RepairReport, error) {
	rep, err := Repair(dir, logger)
	if err != nil {
		return rep, err
	}
	if rep.Replays, err = DropReplays(dir, fromZxid, logger); err != nil {
		return rep, err
	}
	if err := ReadFrom(dir, fromZxid, fn); err != nil {
		return rep, err
	}
	return rep, nil
}
