package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// readChunk is how much of a file the reader holds at once.
const readChunk = 1 << 20

// window reads a file front to back, keeping a chunk of it in memory.
type window struct {
	f    *os.File
	size int64
	off  int64 // file offset of buf[0]
	buf  []byte
}

// at returns the file's bytes [pos, pos+n), or fewer at the end of the file.
// pos must not go backwards past the start of the last call's result.
func (w *window) at(pos int64, n int) ([]byte, error) {
	end := min(pos+int64(n), w.size)
	if pos >= w.off && end <= w.off+int64(len(w.buf)) {
		return w.buf[pos-w.off : end-w.off], nil
	}
	keep := 0 // bytes of [pos, ...) already held
	if pos >= w.off && pos < w.off+int64(len(w.buf)) {
		keep = int(w.off + int64(len(w.buf)) - pos)
	}
	fill := int(min(int64(max(int(end-pos), readChunk, keep)), w.size-pos))
	var next []byte
	if cap(w.buf) >= fill {
		next = w.buf[:fill]
	} else {
		next = make([]byte, fill)
	}
	if keep > 0 {
		copy(next, w.buf[pos-w.off:]) // copy handles the overlap
	}
	if n, err := w.f.ReadAt(next[keep:], pos+int64(keep)); n < fill-keep {
		if err == io.EOF {
			err = fmt.Errorf("file shrank while being read: %w", io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	w.off, w.buf = pos, next
	return w.buf[:end-pos], nil
}

// scanResult is what scanning one file found.
type scanResult struct {
	records  int
	lastZxid int64        // -1 when the file holds no valid record
	end      int64        // offset just past the last valid record (0 if the header is bad)
	size     int64        // file size
	problem  *RecordError // first bad spot, nil when the file ends cleanly; Kind unset
}

// errStop stops a scan early without error.
var errStop = errors.New("stop")

// scanFile reads the records of one log file in order, calling fn with each
// valid record (payload aliases an internal buffer), until the end of the
// log or the first problem. fn may return errStop to stop early.
func scanFile(lf logFile, fn func(off int64, zxid int64, payload []byte) error) (scanResult, error) {
	res := scanResult{lastZxid: -1}
	f, err := os.Open(lf.path)
	if err != nil {
		return res, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("wal: %w", err)
	}
	res.size = st.Size()
	w := &window{f: f, size: st.Size()}
	ioErr := func(err error) error { return fmt.Errorf("wal: read %s: %w", lf.name, err) }

	hdr, err := w.at(0, headerSize)
	if err != nil {
		return res, ioErr(err)
	}
	if len(hdr) == 0 {
		return res, nil // empty file: created, never written (upstream deletes these)
	}
	if err := checkFileHeader(hdr); err != nil {
		res.problem = &RecordError{File: lf.name, Offset: 0, Reason: err}
		return res, nil
	}
	pos := int64(headerSize)
	res.end = pos
	for {
		head, err := w.at(pos, recordHeaderSize)
		if err != nil {
			return res, ioErr(err)
		}
		want := recordHeaderSize
		if n, ok := recordLength(head); ok && n > 0 && n <= MaxRecordSize {
			want = recordOverhead + n
		}
		b, err := w.at(pos, want)
		if err != nil {
			return res, ioErr(err)
		}
		payload, zxid, n, err := decodeRecord(b)
		if err == errEndOfRecord {
			q, err := firstNonZero(f, pos, res.size)
			if err != nil {
				return res, ioErr(err)
			}
			if q >= 0 {
				res.problem = &RecordError{File: lf.name, Offset: pos,
					Reason: fmt.Errorf("%w: end-of-log marker, then non-zero byte at offset %d", errTrailing, q)}
			}
			return res, nil
		}
		if err != nil {
			res.problem = &RecordError{File: lf.name, Offset: pos, Reason: err}
			return res, nil
		}
		if err := fn(pos, zxid, payload); err != nil {
			if err == errStop {
				return res, nil
			}
			return res, err
		}
		res.records++
		res.lastZxid = zxid
		pos += int64(n)
		res.end = pos
	}
}

// firstNonZero returns the offset of the first non-zero byte of f in
// [from, size), or -1.
func firstNonZero(f *os.File, from, size int64) (int64, error) {
	buf := make([]byte, min(readChunk, max(size-from, 0)))
	for pos := from; pos < size; {
		n := min(int64(len(buf)), size-pos)
		if _, err := f.ReadAt(buf[:n], pos); err != nil && err != io.EOF {
			return 0, err
		}
		if i := indexNonZero(buf[:n]); i >= 0 {
			return pos + int64(i), nil
		}
		pos += n
	}
	return -1, nil
}

// classify decides whether problem, found in file lf, is a torn tail or
// corruption: corruption if any valid record exists after it, in lf or in
// any of the later files. It sets problem.Kind and problem.Next.
func classify(problem *RecordError, lf logFile, later []logFile) error {
	// Start one byte into the damaged record: the record itself may be a
	// valid one whose only fault is what comes after it (trailing bytes).
	from := problem.Offset + 1
	if problem.Reason != nil && errors.Is(problem.Reason, errTrailing) {
		from = problem.Offset
	}
	off, err := validRecordIn(lf, from)
	if err != nil {
		return err
	}
	if off >= 0 {
		problem.Kind = ErrCorrupt
		problem.Next = fmt.Sprintf("%s offset %d", lf.name, off)
		return nil
	}
	for _, g := range later {
		off, err := validRecordIn(g, 0)
		if err != nil {
			return err
		}
		if off >= 0 {
			problem.Kind = ErrCorrupt
			problem.Next = fmt.Sprintf("%s offset %d", g.name, off)
			return nil
		}
	}
	problem.Kind = ErrTornTail
	return nil
}

// validRecordIn returns the offset of the first valid record at or after
// from in the file, or -1. It reads the rest of the file into memory: it
// runs only when something is already wrong.
func validRecordIn(lf logFile, from int64) (int64, error) {
	b, err := os.ReadFile(lf.path)
	if err != nil {
		return 0, fmt.Errorf("wal: %w", err)
	}
	if from >= int64(len(b)) {
		return -1, nil
	}
	if off := findValidRecord(b, int(from)); off >= 0 {
		return int64(off), nil
	}
	return -1, nil
}

// ReadFrom calls fn for every txn in the log in dir with a zxid greater
// than fromZxid, in order, across files. rec is the record's payload
// (TxnHeader, txn, optional TxnDigest); fn may keep it. An error from fn
// stops the read and is returned as is.
//
// ReadFrom checks the history: a txn whose zxid neither follows the previous
// one (or fromZxid, for the first delivered) nor starts a later epoch is
// ErrGap. A damaged record is ErrTornTail when nothing valid follows it
// (every valid txn before it has been delivered; run Repair before writing)
// and ErrCorrupt otherwise. Both come as a *RecordError naming the file and
// offset.
//
// To read a log that is being written (a leader sending a follower the txns
// it missed), stop at the last durable zxid by returning an error of your
// own from fn: records after it may be half-written, and would read as a
// torn tail.
func ReadFrom(dir string, fromZxid int64, fn func(zxid int64, rec []byte) error) error {
	files, err := listLogFiles(dir)
	if err != nil {
		return err
	}
	files = filesFrom(files, fromZxid)
	prev, havePrev := int64(0), false
	delivered := false
	for i, lf := range files {
		res, err := scanFile(lf, func(off, zxid int64, payload []byte) error {
			if off == headerSize && zxid != lf.zxid {
				return &RecordError{File: lf.name, Offset: off, Kind: ErrCorrupt, LastZxid: -1,
					Reason: fmt.Errorf("first zxid %#x does not match the file name", zxid)}
			}
			if havePrev && !follows(prev, zxid) {
				return gapError(lf, off, prev, zxid)
			}
			prev, havePrev = zxid, true
			if zxid <= fromZxid {
				return nil
			}
			if !delivered && !follows(fromZxid, zxid) {
				return gapError(lf, off, fromZxid, zxid)
			}
			delivered = true
			return fn(zxid, append([]byte(nil), payload...))
		})
		if err != nil {
			return err
		}
		if p := res.problem; p != nil {
			p.LastZxid = res.lastZxid
			if err := classify(p, lf, files[i+1:]); err != nil {
				return err
			}
			return p
		}
	}
	return nil
}

func gapError(lf logFile, off, prev, next int64) error {
	var reason error
	switch {
	case next <= prev:
		reason = fmt.Errorf("zxid %#x after %#x: out of order", next, prev)
	case epoch(next) == epoch(prev):
		reason = fmt.Errorf("zxid %#x after %#x: %d txns missing", next, prev, next-prev-1)
	default:
		reason = fmt.Errorf("zxid %#x after %#x: a new epoch starts at counter 1", next, prev)
	}
	return &RecordError{File: lf.name, Offset: off, Kind: ErrGap, Reason: reason, LastZxid: prev}
}
