package wal

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/zkbench/zkbench/server/durable"
)

// logPrefix starts every log file name.
const logPrefix = "log."

// LogName returns the name of the log file whose first txn is zxid, as
// upstream names it: "log." and the zxid in lower-case hex.
func LogName(zxid int64) string { return logPrefix + strconv.FormatUint(uint64(zxid), 16) }

// parseLogName returns the zxid in a log file name. Only names of the exact
// form LogName produces (optionally in upper-case hex, which upstream also
// parses) are log files; "log.5.fixed" and the like are not.
func parseLogName(name string) (int64, bool) {
	hex, ok := strings.CutPrefix(name, logPrefix)
	if !ok || hex == "" || len(hex) > 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(hex, 16, 64)
	if err != nil || int64(v) < 0 {
		return 0, false
	}
	return int64(v), true
}

// logFile is one log file in the directory.
type logFile struct {
	name string // base name
	path string
	zxid int64 // from the name: the zxid of its first txn
}

// listLogFiles returns the log files in dir in zxid order. A missing
// directory holds no files.
func listLogFiles(dir string) ([]logFile, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wal: list %s: %w", dir, err)
	}
	var files []logFile
	for _, e := range ents {
		z, ok := parseLogName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		files = append(files, logFile{name: e.Name(), path: filepath.Join(dir, e.Name()), zxid: z})
	}
	slices.SortFunc(files, func(a, b logFile) int {
		switch {
		case a.zxid < b.zxid:
			return -1
		case a.zxid > b.zxid:
			return 1
		}
		return 0
	})
	return files, nil
}

// filesFrom returns the files that can hold txns after zxid: the newest file
// whose first txn is at or before zxid+1, and every later file. When every
// file starts later, all of them are returned (and the reader reports the
// gap if the first txn does not follow zxid).
func filesFrom(files []logFile, zxid int64) []logFile {
	start := 0
	for i, f := range files {
		if f.zxid <= zxid+1 {
			start = i
		}
	}
	return files[start:]
}

// syncDir fsyncs a directory so that file creations, renames and removals
// in it are durable.
func syncDir(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	return nil
}

// epoch and counter split a zxid.
func epoch(zxid int64) int64    { return zxid >> 32 }
func counter(zxid int64) uint32 { return uint32(zxid) }

// follows reports whether next may come right after prev in a history: the
// next counter of the same epoch, or the first txn of a later epoch.
func follows(prev, next int64) bool {
	return next == prev+1 || (epoch(next) > epoch(prev) && counter(next) == 1)
}

// LogDir returns the directory of the transaction log for a server's
// dataDir and dataLogDir (either may be empty): dataLogDir, or dataDir when
// it is unset, plus "version-2", as upstream lays it out.
func LogDir(dataDir, dataLogDir string) string {
	if dataLogDir == "" {
		dataLogDir = dataDir
	}
	return filepath.Join(dataLogDir, "version-2")
}

// Purge removes the log files that ReadFrom(dir, zxid, ...) does not need:
// every file older than the newest one starting at or before zxid+1 (the
// rule upstream's PurgeTxnLog applies for the oldest snapshot it keeps).
// It returns the names removed, oldest first. No file a Log is writing is
// ever among them, as long as zxid is at most the last durable zxid.
func Purge(dir string, zxid int64) ([]string, error) {
	files, err := listLogFiles(dir)
	if err != nil {
		return nil, err
	}
	keep := filesFrom(files, zxid)
	var removed []string
	for _, lf := range files[:len(files)-len(keep)] {
		if err := os.Remove(lf.path); err != nil {
			return removed, fmt.Errorf("wal: purge: %w", err)
		}
		removed = append(removed, lf.name)
	}
	if len(removed) > 0 {
		return removed, syncDir(dir)
	}
	return nil, nil
}
