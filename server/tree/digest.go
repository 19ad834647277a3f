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
// change locally).
func nodeDigest(path string, n *node) int64 {
	if strings.HasPrefix(path, "/zookeeper/") {
		return 0
	}
	if path == "/" {
		path = ""
	}
	var b [60]byte
	s := &n.stat
	binary.BigEndian.PutUint64(b[0:], uint64(s.Czxid))
	binary.BigEndian.PutUint64(b[8:], uint64(s.Mzxid))
	binary.BigEndian.PutUint64(b[16:], uint64(s.Pzxid))
	binary.BigEndian.PutUint64(b[24:], uint64(s.Ctime))
	binary.BigEndian.PutUint64(b[32:], uint64(s.Mtime))
	binary.BigEndian.PutUint32(b[40:], uint32(s.Version))
	binary.BigEndian.PutUint32(b[44:], uint32(s.Cversion))
	binary.BigEndian.PutUint32(b[48:], uint32(s.Aversion))
	binary.BigEndian.PutUint64(b[52:], uint64(s.EphemeralOwner))
	crc := crc32.Update(0, crc32.IEEETable, []byte(path))
	crc = crc32.Update(crc, crc32.IEEETable, n.data)
	crc = crc32.Update(crc, crc32.IEEETable, b[:])
	return int64(crc)
}

// rehash replaces n's contribution to the tree digest after n changed.
func (t *Tree) rehash(path string, n *node) {
	t.digest -= n.digest
	n.digest = nodeDigest(path, n)
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
