// Package wal is the server's transaction log: an append-only sequence of
// transactions (txns), each identified by its zxid, kept on disk in exactly
// the format upstream ZooKeeper uses, so that upstream's tools
// (TxnLogToolkit, zkTxnLogToolkit.sh) read our logs and we read theirs.
//
// # On-disk format
//
// The log lives in the directory <dataLogDir>/version-2 (dataDir when
// dataLogDir is unset; LogDir computes it); the caller passes that directory. It holds a series
// of files named "log." followed by the zxid of the first txn in the file in
// lower-case hexadecimal without leading zeros (log.100000001). Files whose
// names do not parse that way (log.5.fixed, snapshots, tmp files) are ignored.
// Ordered by the zxid in their names, the files form one history.
//
// Every integer is big-endian. A file starts with a 16-byte header:
//
//	magic   int32  0x5a4b4c47 ("ZKLG")
//	version int32  2
//	dbid    int64  0
//
// Records follow the header back to back. A record is
//
//	checksum int64   Adler-32 of the payload, in the low 32 bits
//	length   int32   length of the payload, > 0
//	payload  [length]byte
//	eor      byte    'B' (0x42), the end-of-record marker
//
// so a record takes 13+length bytes. The payload is opaque to this package:
// the serialized TxnHeader, then the txn record, then optionally a TxnDigest.
// The package reads only the TxnHeader's zxid (bytes 12..19 of the payload),
// to check the history, and the Committer its session (bytes 0..7); the
// caller decodes the rest.
//
// Files are preallocated: when a write would come within 4 KiB of the
// allocated size, zeros are written up to the next multiple of the
// preallocation step (upstream's zookeeper.preAllocSize, 64 MiB by default,
// capped here at 1 MiB). Writing the zeros, rather than extending the file
// sparsely as upstream does, lets most fdatasyncs overwrite blocks that are
// already allocated and synced, which needs no journal commit. The log therefore ends at the first of: the end of
// the file, or a record whose checksum and length are both zero (the start of
// the zero-filled area). Everything after that point must be zero.
//
// # Writing
//
// Log.Append buffers a record; Log.Sync writes the buffer and fdatasyncs the
// file. A txn is durable, and may be acknowledged, only once a Sync that
// started after its Append has returned. The first Append after Open or Roll
// creates a new file named after that txn's zxid and fsyncs the directory, so
// an existing file is never appended to: after a restart, history continues
// in a new file, as upstream does. Roll syncs and closes the current file
// before the next one is created, so only the newest file can ever end in a
// torn write.
//
// A failed Append (a bad record, a file that cannot be created, a failed
// write), write or fsync poisons the Log: every later call returns the same
// error. After a failed Append its txn is not in the log, so a later one
// must not be either (the history would have a hole, and recovery would
// refuse it as ErrGap); after a failed fsync the kernel's page cache no
// longer says what is on disk. The server must stop writing and recover
// from the files.
//
// With ForceSync and preallocation, files are written with O_DIRECT: every
// write is about to be fsynced, and going past the page cache halves what a
// write and its fdatasync cost (decisions #38). A direct write covers whole
// 4 KiB blocks, so each one writes the last block's earlier records again
// and pads the block with zeros, which is what the file holds there anyway:
// the bytes on disk are those the page cache would have written, and a
// crash during the write can tear that block as the kernel's write-back of
// the page could. A file system that refuses O_DIRECT (tmpfs on older kernels,
// some FUSE mounts) gets writes through the page cache, from which Sync
// then drops the durable pages a MiB at a time (decisions #37).
//
// Options.ForceSync=false (zoo.cfg forceSync=no) skips the fdatasync for
// experiments; nothing is then durable, and Open says so in a warning.
//
// Committer is the group-commit stage, upstream's SyncRequestProcessor: one
// goroutine appends every txn queued since the last fsync, syncs once, and
// then runs the txns' completion callbacks in submission order. A batch ends
// when the queue is empty (after waiting up to FlushDelay, zero by default,
// or lingering, see Linger), or at MaxBatch txns (1000 by default,
// upstream's zookeeper.maxBatchSize). To linger, the Committer reads one
// more field of the payload: the TxnHeader's session (bytes 0..7), to tell
// writers that pipeline their txns from writers that wait for each.
//
// # Reading and recovery
//
// ReadFrom delivers every txn after a given zxid, in order, across files,
// starting with the newest file whose name is at or before that zxid + 1. It
// checks that the history is whole: each zxid must be the previous one plus
// one, or the first txn (counter 1) of a later epoch (a zxid is epoch<<32 |
// counter). Anything else is ErrGap: a missing file or missing txns would
// otherwise produce a silently partial tree.
//
// A bad record (short, bad length, missing 'B', checksum mismatch, too short
// to hold a TxnHeader) or non-zero bytes after the end of the log is
// classified by what follows it. If no valid record exists anywhere after it
// (in that file or a later one) it is a torn tail, the unfinished last write
// of a crash: ErrTornTail. A torn write was never covered by a finished
// fsync, so it was never acknowledged and may be dropped. If a valid record
// follows, data that may have been acknowledged is damaged: ErrCorrupt, and
// nothing is repaired automatically.
//
// Repair cuts a torn tail: it deletes later files (which hold no valid
// record), truncates the damaged file at the end of its last valid record and
// fsyncs, and reports what it cut. A file left with no valid record is
// removed. Repair refuses ErrCorrupt. The caller must Repair (or use Recover,
// which is Repair then ReadFrom) before it opens the log for writing; a torn
// tail followed by a newer file would otherwise read as corruption.
//
// Unlike upstream's "TxnLogToolkit -r", which rewrites a bad checksum to
// match the damaged bytes, nothing here ever keeps a record that fails its
// checksum.
//
// Truncate (Zab's TRUNC) drops every txn after a zxid, deleting later files
// first so that a crash part-way leaves a prefix of the history.
//
// Limits, by design: a bit flipped in the very last record is
// indistinguishable from a torn write and is cut, with a warning (in an
// ensemble the txn comes back from the leader). After a power loss the pages
// of unsynced writes can reach the disk out of order, leaving zeros and then
// whole records that were never acknowledged; that reads as ErrCorrupt, the
// conservative answer. RecordError.LastZxid says where the valid history
// ends, so the node (or operator) can Truncate there once it knows the
// leader's history. And since the reader checks continuity, a follower that
// installs a leader's snapshot (Zab SNAP) must Roll, so that its new history
// starts a new file, and read from the snapshot's zxid.
//
// Purge removes the files that a read from a given zxid (the oldest
// snapshot kept) no longer needs; the newest file always stays.
//
// Errors name the file and offset: "wal: log.100000001 at offset 4096:
// checksum mismatch (torn tail)".
package wal
