package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
)

// File format constants; see the package documentation.
const (
	// Magic is the first int32 of every log file: "ZKLG".
	Magic int32 = 0x5a4b4c47
	// Version is the log format version upstream writes and we support.
	Version int32 = 2

	headerSize       = 16
	recordHeaderSize = 12 // checksum int64 + length int32
	recordOverhead   = recordHeaderSize + 1
	eor              = 'B'
	// txnHeaderSize is the serialized TxnHeader: clientId long, cxid int,
	// zxid long, time long, type int.
	txnHeaderSize = 8 + 4 + 8 + 8 + 4
	zxidOffset    = 8 + 4

	// MaxRecordSize bounds one record's payload. Upstream refuses records
	// larger than jute.maxbuffer (about 1 MiB by default); anything above
	// this bound is a corrupt length, not a txn.
	MaxRecordSize = 64 << 20
)

// Sentinel errors callers branch on. Errors returned by this package wrap
// one of them, usually inside a *RecordError naming the file and offset.
var (
	// ErrCorrupt reports damaged data with valid records after it: data that
	// may have been acknowledged is lost, and nothing is repaired.
	ErrCorrupt = errors.New("wal: corrupt log")
	// ErrTornTail reports a bad or partial record with no valid record
	// after it: the unfinished last write of a crash. Repair cuts it.
	ErrTornTail = errors.New("wal: torn tail")
	// ErrGap reports a hole in the history: a missing txn or file.
	ErrGap = errors.New("wal: gap in history")
	// ErrClosed reports use of a closed Log or Committer.
	ErrClosed = errors.New("wal: closed")
)

// Reasons a single record fails to decode. They are wrapped, with detail,
// in RecordError.Reason.
var (
	errTruncated   = errors.New("record truncated")
	errBadLength   = errors.New("bad record length")
	errNoEOR       = errors.New("missing end-of-record marker")
	errChecksum    = errors.New("checksum mismatch")
	errZeroLength  = errors.New("zero length with non-zero checksum")
	errShortTxn    = errors.New("record shorter than a TxnHeader")
	errBadHeader   = errors.New("bad file header")
	errTrailing    = errors.New("non-zero bytes after end of log")
	errEndOfRecord = errors.New("end of log") // zero area or end of file; not an error to callers
)

// RecordError locates a problem in the log: the file, the byte offset of the
// record (or header) at fault, what is wrong with it, and how it was
// classified (ErrCorrupt, ErrTornTail or ErrGap), which Unwrap returns.
type RecordError struct {
	File   string // base name, e.g. log.100000001
	Offset int64
	Kind   error // ErrCorrupt, ErrTornTail or ErrGap
	Reason error // what is wrong, e.g. checksum mismatch
	// LastZxid is the zxid of the last valid record before the problem, or
	// -1 when there is none.
	LastZxid int64
	// Next locates the first valid record after the problem, for ErrCorrupt.
	Next string
}

func (e *RecordError) Error() string {
	s := fmt.Sprintf("wal: %s at offset %d: %v", e.File, e.Offset, e.Reason)
	switch e.Kind {
	case ErrTornTail:
		s += " (torn tail)"
	case ErrCorrupt:
		s += " (corrupt"
		if e.Next != "" {
			s += "; valid record follows at " + e.Next
		}
		s += ")"
	}
	return s
}

// Unwrap returns both the classification and the reason, so errors.Is
// matches ErrCorrupt and the like as well as the specific reason.
func (e *RecordError) Unwrap() []error { return []error{e.Kind, e.Reason} }

// appendRecord appends the framed record for payload to dst.
func appendRecord(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(adler32.Checksum(payload)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, payload...)
	return append(dst, eor)
}

// appendFileHeader appends the 16-byte log file header to dst.
func appendFileHeader(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(Magic))
	dst = binary.BigEndian.AppendUint32(dst, uint32(Version))
	return binary.BigEndian.AppendUint64(dst, 0) // dbid: upstream always writes 0
}

// checkFileHeader validates a file header. A short header is errTruncated.
func checkFileHeader(b []byte) error {
	if len(b) < headerSize {
		return fmt.Errorf("%w: file header needs %d bytes, have %d", errTruncated, headerSize, len(b))
	}
	magic := int32(binary.BigEndian.Uint32(b))
	version := int32(binary.BigEndian.Uint32(b[4:]))
	if magic != Magic {
		return fmt.Errorf("%w: magic %#x, want %#x", errBadHeader, uint32(magic), uint32(Magic))
	}
	if version != Version {
		return fmt.Errorf("%w: unsupported version %d, want %d", errBadHeader, version, Version)
	}
	return nil
}

// recordLength returns the payload length a record starting at b claims and
// whether b holds at least the record header.
func recordLength(b []byte) (int, bool) {
	if len(b) < recordHeaderSize {
		return 0, false
	}
	return int(int32(binary.BigEndian.Uint32(b[8:]))), true
}

// decodeRecord decodes the record at the start of b, which must hold the
// rest of the file (or at least the whole record). It returns the payload
// (aliasing b), the payload's zxid and the record's size in bytes.
// errEndOfRecord means the log ends here: b is empty, or the record is the
// all-zero start of the preallocated area (the caller checks that everything
// after it is zero too).
func decodeRecord(b []byte) (payload []byte, zxid int64, n int, err error) {
	if len(b) == 0 {
		return nil, 0, 0, errEndOfRecord
	}
	if len(b) < recordHeaderSize {
		if allZero(b) {
			return nil, 0, 0, errEndOfRecord
		}
		return nil, 0, 0, fmt.Errorf("%w: record header needs %d bytes, have %d", errTruncated, recordHeaderSize, len(b))
	}
	sum := binary.BigEndian.Uint64(b)
	length, _ := recordLength(b)
	switch {
	case length == 0 && sum == 0:
		return nil, 0, 0, errEndOfRecord
	case length == 0:
		return nil, 0, 0, fmt.Errorf("%w %#x", errZeroLength, sum)
	case length < 0 || length > MaxRecordSize:
		return nil, 0, 0, fmt.Errorf("%w %d", errBadLength, length)
	}
	n = recordOverhead + length
	if len(b) < n {
		return nil, 0, 0, fmt.Errorf("%w: length %d needs %d bytes, have %d", errTruncated, length, n, len(b))
	}
	payload = b[recordHeaderSize : recordHeaderSize+length]
	if b[n-1] != eor {
		return nil, 0, 0, fmt.Errorf("%w: found %#x", errNoEOR, b[n-1])
	}
	if got := uint64(adler32.Checksum(payload)); got != sum {
		return nil, 0, 0, fmt.Errorf("%w: stored %#x, computed %#x", errChecksum, sum, got)
	}
	if length < txnHeaderSize {
		return nil, 0, 0, fmt.Errorf("%w: %d bytes", errShortTxn, length)
	}
	zxid = int64(binary.BigEndian.Uint64(payload[zxidOffset:]))
	return payload, zxid, n, nil
}

// validRecordAt reports whether a whole, valid record starts at b[0]. It is
// the resynchronisation test used to tell corruption from a torn tail, so it
// rejects cheaply: the checksum's high 32 bits must be zero, the length
// plausible and the end-of-record marker in place before the checksum is
// computed.
func validRecordAt(b []byte) bool {
	if len(b) < recordOverhead+txnHeaderSize || b[0]|b[1]|b[2]|b[3] != 0 {
		return false
	}
	length, _ := recordLength(b)
	if length < txnHeaderSize || length > MaxRecordSize || recordOverhead+length > len(b) || b[recordOverhead+length-1] != eor {
		return false
	}
	_, _, _, err := decodeRecord(b)
	return err == nil
}

// findValidRecord returns the offset in b of the first valid record starting
// at or after from, or -1. Runs of zeros are skipped quickly: a record's
// length field is non-zero, so a record can start at most 11 bytes before
// the first non-zero byte.
func findValidRecord(b []byte, from int) int {
	for p := from; p+recordOverhead+txnHeaderSize <= len(b); p++ {
		if b[p] == 0 {
			q := indexNonZero(b[p:])
			if q < 0 {
				return -1
			}
			if q > recordHeaderSize-1 {
				p += q - (recordHeaderSize - 1)
			}
		}
		if validRecordAt(b[p:]) {
			return p
		}
	}
	return -1
}

var zeros [64 << 10]byte

// indexNonZero returns the index of the first non-zero byte in b, or -1.
func indexNonZero(b []byte) int {
	off := 0
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if string(b[:n]) != string(zeros[:n]) { // compiles to a memequal, no allocation
			for i, c := range b[:n] {
				if c != 0 {
					return off + i
				}
			}
		}
		off += n
		b = b[n:]
	}
	return -1
}

func allZero(b []byte) bool { return indexNonZero(b) < 0 }
