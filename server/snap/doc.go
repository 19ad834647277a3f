// Package snap reads and writes snapshots of the znode tree in upstream
// ZooKeeper's on-disk format (3.5 to 3.9, FileSnap), so that the Go server
// and Java ZooKeeper can each start from the other's data directory, and
// finds, falls back among and purges snapshot files as upstream does.
//
// # File format
//
// A snapshot lives in dataDir/version-2 and is named snapshot.<zxid in
// lower-case hex, no padding>; the zxid is the last txn applied when the
// (fuzzy) snapshot started and is stored only in the name. The file is one
// jute stream (big-endian; a string or buffer is a 4-byte length, -1 for
// null, then the bytes):
//
//	FileHeader   int magic "ZKSN" (0x5A4B534E), int version 2, long dbid -1
//	sessions     int count, then count x (long session id, int timeout ms)
//	ACL cache    int count, then count x (long ref, int n, n x ACL)
//	             where ACL is int perms, string scheme, string id
//	nodes        repeated: string path, buffer data, long ACL ref,
//	             StatPersisted (long czxid, mzxid, ctime, mtime, int version,
//	             cversion, aversion, long ephemeralOwner, pzxid); the root
//	             has path "" and comes first, parents before children
//	end          string "/"
//	seal         long Adler-32 of every byte before it, string "/"
//	digest       optional (upstream writes it when zookeeper.digest.enabled,
//	             the default since 3.6): long zxid, int version, long value
//	             (version < 2 wrote the value as a hex string)
//	seal         long Adler-32 of every byte before it (the first seal and
//	             the digest included), string "/"
//
// A file named snapshot.<zxid>.gz is the same stream gzip-compressed
// (zookeeper.snapshot.compression.method=gz); Open reads it. Snappy
// (.snappy) is reported as unsupported. Write always writes the plain form,
// upstream's default.
//
// # Contract
//
// Write makes a snapshot durable before it is visible: it writes a
// temporary file whose name cannot be taken for a snapshot, fsyncs it,
// renames it into place and fsyncs the directory. A Reader checks the
// header, every length against what the file can hold, and both seals; any
// damage is an error wrapping ErrCorrupt that names the file and the byte
// offset. A caller must not trust what it built from a Reader until Next has
// returned false with a nil error. LoadNewestValid falls back to older
// snapshots as upstream's FileSnap.deserialize does, and Purge applies
// upstream's PurgeTxnLog rules.
package snap
