package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/zkbench/zkbench/server/metrics"
)

// Defaults for Options fields left zero.
const (
	DefaultPreAllocSize = 64 << 20 // upstream zookeeper.preAllocSize (65536 KiB)
	DefaultMaxBatch     = 1000     // upstream zookeeper.maxBatchSize
	DefaultSlowSyncWarn = time.Second

	// flushThreshold bounds the bytes Append buffers before writing them to
	// the file (without syncing).
	flushThreshold = 512 << 10
	// preallocMargin: extend the file when a write would come this close to
	// its allocated end, as upstream's FilePadding does.
	preallocMargin = 4096
	// maxPreAllocStep caps the step in which a file grows: the zeros are
	// written while the batch that needs them waits, and a 1 MiB step
	// costs it about 0.2 ms.
	maxPreAllocStep = 1 << 20
	// dropStep: a Sync lets the page cache drop the durable pages of the
	// file once they amount to this much (decisions #37), when the file is
	// not written directly.
	dropStep = 1 << 20
	// directAlign is the offset, length and memory alignment of a direct
	// write: a page, which covers every logical block size up to it.
	directAlign = 4096
	// initialDirectBuf is the first buffer a directly written file gets.
	initialDirectBuf = 64 << 10
)

// Options configures a Log.
type Options struct {
	// PreAllocSize is the step, in bytes, in which log files grow by
	// writing zeros ahead of the records (upstream zookeeper.preAllocSize,
	// in KiB there), capped at 1 MiB. Zero means the default; negative
	// disables preallocation.
	PreAllocSize int64
	// ForceSync makes Sync fdatasync the file (zoo.cfg forceSync=yes, the
	// upstream default). When false, nothing is durable: for experiments
	// only, and Open warns about it.
	ForceSync bool
	// Logger receives warnings (slow fsyncs, forceSync=no); nil means
	// slog.Default(), so that they are never silently lost.
	Logger *slog.Logger
	// MaxBatch is the default largest group commit of a Committer on this
	// log; zero means 1000.
	MaxBatch int
	// SlowSyncWarn: a Sync slower than this is logged as a warning
	// (upstream fsync.warningthresholdms). Zero means one second.
	SlowSyncWarn time.Duration
	// FsyncTime, if set, records every fdatasync of the log (upstream's
	// fsynctime).
	FsyncTime *metrics.Summary
}

func (o Options) withDefaults() Options {
	if o.PreAllocSize == 0 {
		o.PreAllocSize = DefaultPreAllocSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.SlowSyncWarn <= 0 {
		o.SlowSyncWarn = DefaultSlowSyncWarn
	}
	return o
}

// Log appends txns to the log files in one directory. Its methods are safe
// for concurrent use, but appends must come in zxid order, so one goroutine
// (the node loop, or a Committer) normally owns it. A Sync does not hold up
// Append while it waits in fdatasync, so one goroutine may append while
// another syncs (the ensemble's syncer).
type Log struct {
	dir  string
	opts Options

	// syncMu serializes Sync, Roll and Close, so that a file is never
	// closed under an fdatasync; mu guards the rest and is not held
	// during fdatasync. Take syncMu first.
	syncMu    sync.Mutex
	mu        sync.Mutex
	f         *os.File // current file; nil before the first Append and after Roll
	name      string   // base name of f
	buf       []byte   // from file offset bufStart: records appended but not yet written to f
	bufStart  int64    // written, or when direct the block boundary at or before it
	written   int64    // bytes of f written (header and records)
	allocated int64    // bytes of f written with records or zeros
	zeros     []byte   // a step of zeros, for preallocation
	last      int64    // last appended zxid, -1 before the first
	err       error    // sticky write or sync failure
	closed    bool
	// direct: f is written with O_DIRECT, past the page cache (with
	// ForceSync where the file system takes it; decisions #38). buf is
	// then aligned and starts at the block boundary before written: it
	// holds the written part of the last block again, so that every write
	// covers whole blocks. tryDirect is whether new files try it: with
	// ForceSync and preallocation (without, every write would grow the
	// file, and its last block would end in zeros).
	direct, tryDirect bool
	// dropped is how much of f, from its start, the page cache was last
	// told to drop (dropSynced); guarded by syncMu.
	dropped int64
	// dirf is the log directory, open for its fsync after a file is
	// created; spare is a descriptor held in reserve and given up just
	// before a file is created (see create). Either may be nil.
	dirf, spare *os.File

	fsync func(*os.File) error // fdatasync; tests instrument it
}

// Open prepares to write the log in dir (<dataLogDir>/version-2), creating
// the directory if needed. It reads nothing: run Repair (or Recover) and
// ReadFrom first. The first Append creates a new file; existing files are
// never appended to.
func Open(dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	if opts.ForceSync {
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	} else {
		opts.Logger.Warn("wal: forceSync=no: the transaction log is NOT fsynced; acknowledged writes can be lost "+
			"on a crash or power failure. Use only for experiments.", "dir", dir)
	}
	l := &Log{dir: dir, opts: opts, last: -1, fsync: logSync, tryDirect: opts.ForceSync && opts.PreAllocSize > 0 && syncWritesDirect}
	if opts.ForceSync {
		f, err := os.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("wal: %w", err)
		}
		l.dirf = f
	}
	l.holdSpare()
	return l, nil
}

// holdSpare takes a descriptor into reserve if none is held. A server
// whose clients hold every descriptor it may open must still be able to
// create its next log file, or it would poison its log and stop: create
// gives the spare up for the file. Failing to take one is not an error.
func (l *Log) holdSpare() {
	if l.spare == nil {
		l.spare, _ = os.Open(os.DevNull)
	}
}

// Dir returns the directory the log writes to.
func (l *Log) Dir() string { return l.dir }

// Append adds one txn to the log, buffered: it is durable only after the
// next Sync returns. rec is the serialized TxnHeader, txn and optional
// TxnDigest; the TxnHeader's zxid must equal zxid, and zxids must increase.
// The first Append after Open or Roll creates the file log.<zxid hex>.
//
// A failed Append poisons the Log, whatever the cause (a bad record, a
// file that cannot be created, a failed write): the txn is not in the
// log, so no later txn may be, or the history would have a hole.
func (l *Log) Append(zxid int64, rec []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if err := l.check(zxid, rec); err != nil {
		return l.fail(err)
	}
	if l.f == nil {
		if err := l.create(zxid); err != nil {
			return l.fail(err)
		}
	}
	if l.direct {
		l.reserve(len(rec) + recordOverhead)
	}
	l.buf = appendRecord(l.buf, rec)
	l.last = zxid
	if l.bufStart+int64(len(l.buf))-l.written >= flushThreshold {
		return l.flush()
	}
	return nil
}

// check validates a record Append is given.
func (l *Log) check(zxid int64, rec []byte) error {
	if len(rec) < txnHeaderSize || len(rec) > MaxRecordSize {
		return fmt.Errorf("wal: append %#x: record of %d bytes (want %d..%d)", zxid, len(rec), txnHeaderSize, MaxRecordSize)
	}
	if z := int64(binary.BigEndian.Uint64(rec[zxidOffset:])); z != zxid {
		return fmt.Errorf("wal: append %#x: record's TxnHeader has zxid %#x", zxid, z)
	}
	if l.last >= 0 && zxid <= l.last {
		return fmt.Errorf("wal: append %#x after %#x: zxids must increase", zxid, l.last)
	}
	return nil
}

func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return l.err
}

// create starts a new file for txns from zxid on. The header goes into the
// buffer, to be written with the first records.
func (l *Log) create(zxid int64) error {
	name := LogName(zxid)
	if l.spare != nil {
		l.spare.Close()
		l.spare = nil
	}
	f, err := os.OpenFile(filepath.Join(l.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	l.holdSpare()
	if err != nil {
		return fmt.Errorf("wal: create log file %s: %w", name, err)
	}
	if l.dirf != nil {
		if err := l.dirf.Sync(); err != nil {
			f.Close()
			os.Remove(f.Name())
			return fmt.Errorf("wal: fsync directory %s: %w", l.dir, err)
		}
	}
	l.f, l.name, l.written, l.allocated, l.bufStart = f, name, 0, 0, 0
	l.direct = l.tryDirect && setDirect(f, true)
	l.buf = l.buf[:0]
	if l.direct {
		l.reserve(headerSize)
	}
	l.buf = appendFileHeader(l.buf)
	return nil
}

// reserve makes room in buf for n more bytes and the padding to the next
// block, keeping it aligned for direct writes.
func (l *Log) reserve(n int) {
	need := len(l.buf) + n + directAlign
	if cap(l.buf) >= need && aligned(l.buf) {
		return
	}
	b := alignedBuffer(max(need, 2*cap(l.buf), initialDirectBuf))
	l.buf = append(b, l.buf...)
}

// flush writes the buffer to the file, preallocating first when the write
// would come near the allocated end. Failures poison the Log.
func (l *Log) flush() error {
	end := l.bufStart + int64(len(l.buf))
	if l.f == nil || end == l.written {
		return nil
	}
	if err := l.preallocate(end); err != nil {
		return l.fail(fmt.Errorf("wal: preallocate %s: %w", l.name, err))
	}
	if err := l.write(); err != nil {
		return l.fail(fmt.Errorf("wal: write %s at offset %d: %w", l.name, l.written, err))
	}
	l.written = end
	if !l.direct {
		l.buf, l.bufStart = l.buf[:0], end
		return nil
	}
	// Keep the last, partial block: the next write starts with it.
	keep := end &^ (directAlign - 1)
	n := copy(l.buf, l.buf[keep-l.bufStart:])
	l.buf, l.bufStart = l.buf[:n], keep
	return nil
}

// write writes what buf holds beyond written: directly, as whole blocks
// padded with zeros (the file holds zeros there too), or else through the
// page cache.
func (l *Log) write() error {
	if l.direct {
		block := l.buf[:roundUp(int64(len(l.buf)))]
		clear(block[len(l.buf):])
		return l.writeAt(block, l.bufStart)
	}
	return l.writeAt(l.buf[l.written-l.bufStart:], l.written)
}

// writeAt writes b at off. A direct write the file system refuses
// (EINVAL) is made again through the page cache, as is every later write
// of the file: the same bytes at the same offset are right either way.
func (l *Log) writeAt(b []byte, off int64) error {
	_, err := l.f.WriteAt(b, off)
	if l.direct && errors.Is(err, syscall.EINVAL) {
		l.opts.Logger.Warn("wal: the file system refused a direct write; writing the log through the page cache",
			"file", l.name, "err", err)
		setDirect(l.f, false)
		l.direct = false
		_, err = l.f.WriteAt(b, off)
	}
	return err
}

// roundUp rounds n up to a multiple of directAlign.
func roundUp(n int64) int64 { return (n + directAlign - 1) &^ (directAlign - 1) }

// preallocate grows the file, when a write ending at end would come within
// preallocMargin of its allocated end, by writing zeros up to the next
// multiple of the step beyond it.
//
// Zeros, not fallocate or a sparse extension as upstream: an fdatasync
// that lands in unwritten or unallocated blocks must also allocate them or
// convert their extents and write the inode, while overwriting blocks that
// are already written and synced needs no metadata at all. Measured on ext4 with 1.1 KiB records,
// syncing every 70 of them, that halves the CPU a record costs in
// pwrite and fdatasync (about 1.7 µs to 1.0, zeros included); see
// docs/decisions.md.
func (l *Log) preallocate(end int64) error {
	step := min(l.opts.PreAllocSize, maxPreAllocStep)
	if step <= 0 || end+preallocMargin < l.allocated {
		return nil
	}
	from := end // the records about to be written cover [l.written, end)
	if l.direct {
		// Direct writes are whole blocks: the records' write pads their
		// last block with zeros, and the step keeps the zeros aligned.
		step, from = roundUp(step), roundUp(end)
	}
	size := l.allocated
	for end+preallocMargin >= size {
		size += step
	}
	if len(l.zeros) < int(step) || !aligned(l.zeros) {
		l.zeros = alignedBuffer(int(step))[:step]
	}
	// Zero only what lies beyond both the records and the zeros already
	// written.
	for off := max(l.allocated, from); off < size; {
		n := min(int64(len(l.zeros)), size-off)
		if err := l.writeAt(l.zeros[:n], off); err != nil {
			return fmt.Errorf("write zeros at offset %d: %w", off, err)
		}
		off += n
	}
	l.allocated = size
	return nil
}

func (l *Log) fail(err error) error {
	if l.err == nil {
		l.err = err
	}
	return l.err
}

// Sync writes every appended txn to the file and, with ForceSync,
// fdatasyncs it. When Sync returns nil, every txn appended before the call
// is durable (and perhaps some appended while it ran). Appends made while
// it waits in fdatasync proceed. A failure poisons the Log.
func (l *Log) Sync() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return err
	}
	l.holdSpare() // given up by the last create, if none was free then
	if err := l.flush(); err != nil {
		l.mu.Unlock()
		return err
	}
	f, name, written, direct := l.f, l.name, l.written, l.direct
	l.mu.Unlock()
	if f == nil || !l.opts.ForceSync {
		return nil
	}
	// f stays open: closing it takes syncMu.
	err := l.fdatasync(f, name)
	if err != nil {
		l.mu.Lock()
		err = l.fail(err)
		l.mu.Unlock()
		return err
	}
	if !direct {
		l.dropSynced(f, written)
	}
	return nil
}

// dropSynced lets the kernel drop from the page cache the pages of f
// before upTo, once they amount to dropStep more than it last dropped.
// They are durable, and the log never reads them again (a
// learner's sync reads them from the file, rarely). Nothing else frees
// them: a log grows by writing zeros into fresh page-cache pages, and
// fresh pages cost several times what recently freed ones do (on this
// virtual machine 2.4-4.0 ms a MiB of zeros against 0.33; decisions #37).
// The page holding upTo stays, as the next record goes there. Best
// effort: a failure costs only the cache. syncMu must be held.
func (l *Log) dropSynced(f *os.File, upTo int64) {
	end := upTo &^ int64(os.Getpagesize()-1)
	if end-l.dropped < dropStep {
		return
	}
	// From the start each time: the page cache may hold a file in folios
	// larger than a page, and one that straddled the last end stayed.
	dropCache(f, 0, end)
	l.dropped = end
}

// sync writes and fdatasyncs the current file, holding both locks.
func (l *Log) sync() error {
	if err := l.flush(); err != nil {
		return err
	}
	if l.f == nil || !l.opts.ForceSync {
		return nil
	}
	if err := l.fdatasync(l.f, l.name); err != nil {
		return l.fail(err)
	}
	return nil
}

// fdatasync syncs f (the file name) and records how long it took.
func (l *Log) fdatasync(f *os.File, name string) error {
	start := time.Now()
	if err := l.fsync(f); err != nil {
		return fmt.Errorf("wal: fdatasync %s: %w", name, err)
	}
	d := time.Since(start)
	l.opts.FsyncTime.Observe(d)
	if d > l.opts.SlowSyncWarn {
		l.opts.Logger.Warn("wal: fsync of the transaction log was slow; write latency suffers",
			"file", name, "took", d)
	}
	return nil
}

// Roll ends the current file: it syncs and closes it, and the next Append
// starts a new one. The server rolls after starting a snapshot, as upstream
// does, so that old files can be purged.
func (l *Log) Roll() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	return l.closeFile()
}

func (l *Log) closeFile() error {
	if l.f == nil {
		return nil
	}
	if err := l.sync(); err != nil {
		return err
	}
	if l.opts.ForceSync && !l.direct {
		dropCache(l.f, 0, 0) // the whole file: all of it durable
	}
	l.dropped = 0
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return l.fail(fmt.Errorf("wal: close %s: %w", l.name, err))
	}
	return nil
}

// Err returns the failure that poisoned the Log (ErrClosed once it is
// closed), or nil while it can be written.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.usable()
}

// LastZxid returns the zxid of the last txn appended since Open, or -1.
func (l *Log) LastZxid() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// Close syncs and closes the current file. After Close every method
// returns ErrClosed; Close returns the Log's failure, if any.
func (l *Log) Close() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	err := l.err
	if err == nil {
		err = l.closeFile()
	}
	for _, f := range []*os.File{l.f, l.dirf, l.spare} {
		if f != nil {
			f.Close()
		}
	}
	l.closed = true
	l.f, l.dirf, l.spare = nil, nil, nil
	return err
}

// alignedBuffer returns an empty buffer of capacity n whose first byte is
// aligned for direct writes.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+directAlign)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (directAlign - 1))
	return b[off : off : off+n]
}

// aligned reports whether b's first byte is aligned for direct writes.
func aligned(b []byte) bool {
	return cap(b) > 0 && uintptr(unsafe.Pointer(unsafe.SliceData(b)))&(directAlign-1) == 0
}
