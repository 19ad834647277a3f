package peer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/zkbench/zkbench/server/durable"
	"github.com/zkbench/zkbench/server/wal"
	"github.com/zkbench/zkbench/server/zab"
)

// storage is the peer's zab.Storage: the durable log (wal) and epochs, plus
// an in-memory window of the most recent log entries that DIFF syncs are
// served from. Entries older than the window are only on disk; a learner
// that needs them gets a SNAP.
type storage struct {
	logDir, epochDir string
	log              *wal.Log
	logOpts          wal.Options

	base    int64 // zxid before the first entry in the window
	entries []zab.Entry
	bytes   int64

	accepted, current int64

	maxEntries int
	maxBytes   int64
}

// The DIFF window's default bounds. Upstream keeps 500 committed proposals
// in memory (zookeeper.commitLogCount) and can also sync from its log files;
// this server syncs from memory only, so its window is larger: a follower
// that was down for a moment under load still syncs by DIFF, a longer
// absence means a SNAP. It is bounded in bytes too, so a member stays small
// under load: with the earlier 10,000 entries / 16 MiB a loaded 3-server
// ensemble peaked at 65-68 MiB RSS per member, with these at 47-57 MiB
// (zkbench run --servers 3 --writes 100%, 60 clients x 100 outstanding).
const (
	defaultWindowEntries = 2000
	defaultWindowBytes   = 4 << 20
)

const (
	acceptedEpochFile = "acceptedEpoch"
	currentEpochFile  = "currentEpoch"
)

func newStorage(logDir, epochDir string, log *wal.Log, logOpts wal.Options, base int64) *storage {
	return &storage{logDir: logDir, epochDir: epochDir, log: log, logOpts: logOpts, base: base,
		maxEntries: defaultWindowEntries, maxBytes: defaultWindowBytes}
}

// reopen closes the log and opens it afresh, so the next append may start
// below the last one (after a TRUNC or a SNAP) in a new file.
func (s *storage) reopen(change func() error) error {
	if err := s.log.Close(); err != nil {
		return fmt.Errorf("peer: closing the log: %w", err)
	}
	if err := change(); err != nil {
		return err
	}
	l, err := wal.Open(s.logDir, s.logOpts)
	if err != nil {
		return fmt.Errorf("peer: reopening the log: %w", err)
	}
	s.log = l
	return nil
}

// BaseZxid implements zab.Storage.
func (s *storage) BaseZxid() int64 { return s.base }

// LastZxid implements zab.Storage.
func (s *storage) LastZxid() int64 {
	if n := len(s.entries); n > 0 {
		return s.entries[n-1].Zxid
	}
	return s.base
}

// Entries implements zab.Storage.
func (s *storage) Entries(after int64, max int) ([]zab.Entry, error) {
	if after < s.base {
		return nil, fmt.Errorf("peer: entries after 0x%x, window starts after 0x%x: %w", after, s.base, zab.ErrCompacted)
	}
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Zxid > after })
	j := len(s.entries)
	if max >= 0 && j-i > max {
		j = i + max
	}
	return append([]zab.Entry(nil), s.entries[i:j]...), nil
}

// Floor implements zab.Storage.
func (s *storage) Floor(zxid int64) (int64, error) {
	if zxid < s.base {
		return 0, fmt.Errorf("peer: floor of 0x%x, window starts after 0x%x: %w", zxid, s.base, zab.ErrCompacted)
	}
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Zxid > zxid })
	if i == 0 {
		return s.base, nil
	}
	return s.entries[i-1].Zxid, nil
}

// AcceptedEpoch implements zab.Storage.
func (s *storage) AcceptedEpoch() int64 { return s.accepted }

// CurrentEpoch implements zab.Storage.
func (s *storage) CurrentEpoch() int64 { return s.current }

// remember adds entries to the window (they are already durable). Call
// trim once the state has applied what it can.
func (s *storage) remember(es []zab.Entry) {
	for _, e := range es {
		s.entries = append(s.entries, e)
		s.bytes += int64(len(e.Data))
	}
}

// trim drops the oldest entries beyond the window's bounds, but never one
// past applied: Zab reads entries it has not committed yet (or that the
// state has not applied) from the window, however many are in flight.
func (s *storage) trim(applied int64) {
	drop := 0
	for drop < len(s.entries) && s.entries[drop].Zxid <= applied &&
		(len(s.entries)-drop > s.maxEntries || s.bytes > s.maxBytes && len(s.entries)-drop > 1) {
		s.bytes -= int64(len(s.entries[drop].Data))
		drop++
	}
	if drop == 0 {
		return
	}
	s.base = s.entries[drop-1].Zxid
	// Reslice, releasing the dropped entries' data; the array itself is
	// replaced by the appends that outgrow it (copying the whole window
	// on every trim cost a loaded member a memmove per Ready).
	clear(s.entries[:drop])
	s.entries = s.entries[drop:]
}

// append writes entries to the log (not yet synced).
func (s *storage) append(es []zab.Entry) error {
	for _, e := range es {
		if err := s.log.Append(e.Zxid, e.Data); err != nil {
			return fmt.Errorf("peer: log append 0x%x: %w", e.Zxid, err)
		}
	}
	return nil
}

// recoverLog replaces a log that failed (wal poisons it on any failed
// append, write or fsync). Whatever reached the disk after the last entry
// of the window was never acknowledged, since an entry enters the window,
// and is acknowledged, only after the fsync that covered it: recoverLog
// cuts the torn tail a failed write may leave, drops those entries, and
// opens the log afresh, so that the history on disk is exactly the one
// this member announces in elections.
func (s *storage) recoverLog(logger *slog.Logger) error {
	s.log.Close() // returns the failure, already known
	if _, err := wal.Repair(s.logDir, logger); err != nil {
		return fmt.Errorf("peer: repairing the log after a failure: %w", err)
	}
	if err := wal.Truncate(s.logDir, s.LastZxid()); err != nil {
		return fmt.Errorf("peer: dropping unacknowledged entries after 0x%x: %w", s.LastZxid(), err)
	}
	l, err := wal.Open(s.logDir, s.logOpts)
	if err != nil {
		return fmt.Errorf("peer: reopening the log: %w", err)
	}
	s.log = l
	return nil
}

// truncate drops log entries after zxid, on disk and in the window.
func (s *storage) truncate(zxid int64) error {
	err := s.reopen(func() error {
		if err := wal.Truncate(s.logDir, zxid); err != nil {
			return fmt.Errorf("peer: truncate log after 0x%x: %w", zxid, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Zxid > zxid })
	for _, e := range s.entries[i:] {
		s.bytes -= int64(len(e.Data))
	}
	s.entries = s.entries[:i]
	if zxid < s.base {
		s.base = zxid
	}
	return nil
}

// reset forgets the whole log after a snapshot at zxid was installed: the
// snapshot (already durable) supersedes every older entry, and a log file
// that still held divergent entries past it must never be replayed.
func (s *storage) reset(zxid int64) error {
	err := s.reopen(func() error {
		files, _ := filepath.Glob(filepath.Join(s.logDir, "log.*"))
		for _, f := range files {
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("peer: removing %s after a snapshot install: %w", f, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.entries, s.bytes, s.base = nil, 0, zxid
	return nil
}

// loadEpochs reads acceptedEpoch and currentEpoch (upstream's files in
// dataDir/version-2); a missing file means the epoch of the last zxid.
func (s *storage) loadEpochs(lastZxid int64) error {
	def := zab.EpochOf(lastZxid)
	var err error
	if s.accepted, err = readEpoch(filepath.Join(s.epochDir, acceptedEpochFile), def); err != nil {
		return err
	}
	if s.current, err = readEpoch(filepath.Join(s.epochDir, currentEpochFile), def); err != nil {
		return err
	}
	if s.current > s.accepted {
		return fmt.Errorf("peer: %s (%d) is newer than %s (%d)", currentEpochFile, s.current, acceptedEpochFile, s.accepted)
	}
	return nil
}

// saveEpochs writes changed epochs durably (temp file, fsync, rename,
// fsync the directory).
func (s *storage) saveEpochs(e zab.Epochs) error {
	if e.Accepted != s.accepted {
		if err := writeEpoch(s.epochDir, acceptedEpochFile, e.Accepted); err != nil {
			return err
		}
		s.accepted = e.Accepted
	}
	if e.Current != s.current {
		if err := writeEpoch(s.epochDir, currentEpochFile, e.Current); err != nil {
			return err
		}
		s.current = e.Current
	}
	return nil
}

func readEpoch(path string, def int64) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return def, nil
	}
	if err != nil {
		return 0, fmt.Errorf("peer: %w", err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("peer: %s: not an epoch: %q", path, strings.TrimSpace(string(b)))
	}
	return v, nil
}

func writeEpoch(dir, name string, v int64) error {
	return writeFileDurably(filepath.Join(dir, name), []byte(strconv.FormatInt(v, 10)+"\n"))
}

// writeFileDurably writes a file under a temporary name, fsyncs it,
// renames it into place and fsyncs the directory.
func writeFileDurably(path string, data []byte) error {
	if err := durable.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	return nil
}
