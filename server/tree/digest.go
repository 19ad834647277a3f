package tree

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
)

// DigestVersion is the version of upstream's tree digest (DigestCalculator
// DIGEST_VERSION) that Digest computes.
const DigestVersion int32 = 2

// nodeDigest is upstream DigestCalculator.calculateDigest: the CRC-32 of
// the path ("" for the root), the data, and the stored stat fields czxid,
// mzxid, pzxid, ctime, mtime (8 bytes each), version, cversion, aversion (4
// bytes each) and ephemeralOwner (8 bytes), big-endian. Nodes under
// "/zookeeper/" count as 0 (upstream leaves them out because quota stats
// change locally). scratch is reused to keep the hashing allocation-free; it
// is returned for the next call.
func nodeDigest(path string, n *node, scratch []byte) (int64, []byte) {
	if strings.HasPrefix(path, "/zookeeper/") {
		return 0, scratch
	}
	if path == "/" {
		path = ""
	}
	b := append(scratch[:0], path...)
	crc := crc32.Update(0, crc32.IEEETable, b)
	crc = crc32.Update(crc, crc32.IEEETable, n.data)
	s := &n.stat
	b = binary.BigEndian.AppendUint64(b[:0], uint64(s.Czxid))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Mzxid))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Pzxid))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Ctime))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Mtime))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Version))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Cversion))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Aversion))
	b = binary.BigEndian.AppendUint64(b, uint64(s.EphemeralOwner))
	crc = crc32.Update(crc, crc32.IEEETable, b)
	return int64(crc), b
}

// rehash replaces n's contribution to the tree digest after n changed. It
// is called with the write lock held (or before the tree is shared).
func (t *Tree) rehash(path string, n *node) {
	t.digest -= n.digest
	n.digest, t.scratch = nodeDigest(path, n, t.scratch)
	t.digest += n.digest
}

// unhash removes n's contribution (n is being deleted).
func (t *Tree) unhash(n *node) {
	t.digest -= n.digest
	n.digest = 0
}

// Digest is upstream's tree digest (DataTree.getTreeDigest, digest version
// DigestVersion): the sum, wrapping, of every node's CRC-32 digest. Upstream
// writes it after each txn in the log (TxnDigest) and after the nodes in a
// snapshot, and compares it on replay; with it a Go server's logs and
// snapshots pass Java's digest checks.
func (t *Tree) Digest() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.digest
}
