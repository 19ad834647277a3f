package snap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrNoSnapshot means the directory holds no snapshot file at all (a new
// server); it is distinct from every snapshot being damaged.
var ErrNoSnapshot = errors.New("snap: no snapshot")

// File is a snapshot file found in a directory.
type File struct {
	Path        string
	Zxid        int64
	Compression string // "", "gz" or "snappy", from the name's extension
}

// zxidFromName is upstream Util.getZxidFromName: the second dot-separated
// part of a name whose first part is prefix, parsed as hex; -1 otherwise.
func zxidFromName(name, prefix string) int64 {
	parts := strings.Split(name, ".")
	if len(parts) < 2 || parts[0] != prefix {
		return -1
	}
	z, err := strconv.ParseInt(parts[1], 16, 64)
	if err != nil {
		return -1
	}
	return z
}

// compression is upstream SnapStream.getStreamMode: the last extension.
func compression(name string) string {
	parts := strings.Split(name, ".")
	if len(parts) > 1 {
		switch strings.ToLower(parts[len(parts)-1]) {
		case "gz":
			return "gz"
		case "snappy":
			return "snappy"
		}
	}
	return ""
}

// List returns the snapshot files of dir, newest (highest zxid) first. Files
// whose names upstream would not parse as snapshot.<hex zxid>[.ext] are not
// listed; among equal zxids a plain file comes before a compressed one.
func List(dir string) ([]File, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("snap: list %s: %w", dir, err)
	}
	var out []File
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		z := zxidFromName(e.Name(), snapPrefix)
		if z < 0 {
			continue
		}
		out = append(out, File{Path: filepath.Join(dir, e.Name()), Zxid: z, Compression: compression(e.Name())})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Zxid != out[j].Zxid {
			return out[i].Zxid > out[j].Zxid
		}
		if (out[i].Compression == "") != (out[j].Compression == "") {
			return out[i].Compression == ""
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

// maxTried is how many snapshots LoadNewestValid tries, as upstream.
const maxTried = 100

// LoadNewestValid opens the newest snapshot of dir and calls load with it;
// load must read the nodes it wants (what it leaves unread is drained and
// checked). If the file is damaged or load fails, it logs why and tries the
// next older one, so load must build into fresh state on every call and the
// caller must keep only what the successful call built. It returns the file
// that loaded, ErrNoSnapshot when dir holds none, or an error wrapping the
// last failure when none of up to 100 loads.
func LoadNewestValid(dir string, load func(*Reader) error) (File, error) {
	files, err := List(dir)
	if err != nil {
		return File{}, err
	}
	if len(files) == 0 {
		return File{}, fmt.Errorf("%w in %s", ErrNoSnapshot, dir)
	}
	var last error
	for i, f := range files {
		if i == maxTried {
			break
		}
		err := loadOne(f, load)
		if err == nil {
			return f, nil
		}
		slog.Warn("snap: snapshot unusable, trying an older one", "file", f.Path, "err", err)
		last = err
	}
	return File{}, fmt.Errorf("snap: no valid snapshot among %d in %s: %w", len(files), dir, last)
}

func loadOne(f File, load func(*Reader) error) error {
	r, err := Open(f.Path)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := load(r); err != nil {
		return err
	}
	return r.Drain()
}

// looksValid is upstream SnapStream.isValidSnapshot, the cheap check
// PurgeTxnLog uses to count snapshots: a plain file must be at least 10
// bytes and end with the seal's "/" string; a compressed one must start
// with its format's magic.
func looksValid(f File) bool {
	fh, err := os.Open(f.Path)
	if err != nil {
		return false
	}
	defer fh.Close()
	switch f.Compression {
	case "gz":
		var m [2]byte
		_, err := io.ReadFull(fh, m[:])
		return err == nil && m[0] == 0x1f && m[1] == 0x8b
	case "snappy":
		var m [8]byte
		_, err := io.ReadFull(fh, m[:])
		return err == nil && bytes.Equal(m[:], []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0})
	}
	st, err := fh.Stat()
	if err != nil || st.Size() < 10 {
		return false
	}
	var tail [5]byte
	if _, err := fh.ReadAt(tail[:], st.Size()-5); err != nil {
		return false
	}
	return bytes.Equal(tail[:], []byte{0, 0, 0, 1, '/'})
}

// Purge applies upstream's PurgeTxnLog.purge: it keeps the retain newest
// valid snapshots of snapDir and deletes every snapshot.* file of snapDir
// and log.* file of logDir whose zxid is lower than the oldest one kept,
// except the newest log whose zxid is at most that snapshot's (it holds the
// txns that follow it). retain must be at least 3. It returns the removed
// paths, sorted; nothing is removed while no valid snapshot exists. A file
// that cannot be removed is reported in the error and the others still go.
func Purge(snapDir, logDir string, retain int) (removed []string, err error) {
	if retain < 3 {
		return nil, fmt.Errorf("snap: purge: retain count %d: it must be at least 3", retain)
	}
	files, err := List(snapDir)
	if err != nil {
		return nil, err
	}
	var kept []File
	for _, f := range files {
		if len(kept) == retain {
			break
		}
		if looksValid(f) {
			kept = append(kept, f)
		}
	}
	if len(kept) == 0 {
		return nil, nil
	}
	least := kept[len(kept)-1].Zxid

	logs, err := os.ReadDir(logDir)
	if err != nil {
		return nil, fmt.Errorf("snap: purge: %w", err)
	}
	// Upstream FileTxnLog.getLogFiles: the newest log starting at or before
	// the snapshot, and everything after it, are needed.
	var logZxid int64
	for _, e := range logs {
		if z := zxidFromName(e.Name(), logPrefix); z <= least && z > logZxid {
			logZxid = z
		}
	}
	var victims []string
	for _, e := range logs {
		if !strings.HasPrefix(e.Name(), logPrefix+".") {
			continue
		}
		if z := zxidFromName(e.Name(), logPrefix); z < least && z < logZxid {
			victims = append(victims, filepath.Join(logDir, e.Name()))
		}
	}
	snaps, err := os.ReadDir(snapDir)
	if err != nil {
		return nil, fmt.Errorf("snap: purge: %w", err)
	}
	for _, e := range snaps {
		if !strings.HasPrefix(e.Name(), snapPrefix+".") {
			continue
		}
		if zxidFromName(e.Name(), snapPrefix) < least {
			victims = append(victims, filepath.Join(snapDir, e.Name()))
		}
	}
	sort.Strings(victims)
	seen := map[string]bool{}
	var errs []error
	for _, v := range victims {
		if seen[v] {
			continue // snapDir == logDir
		}
		seen[v] = true
		// Like upstream, a file that will not go does not stop the others.
		if err := os.Remove(v); err != nil {
			errs = append(errs, fmt.Errorf("snap: purge: %w", err))
			continue
		}
		removed = append(removed, v)
	}
	return removed, errors.Join(errs...)
}
