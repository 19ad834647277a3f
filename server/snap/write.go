package snap

import (
	"bufio"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"maps"
	"path/filepath"
	"slices"

	"github.com/zkbench/zkbench/server/durable"
	"github.com/zkbench/zkbench/server/proto"
)

// Format constants (upstream FileSnap / FileTxnLog).
const (
	Magic   int32 = 0x5A4B534E // "ZKSN"
	Version int32 = 2
	DBID    int64 = -1

	// DigestVersion is the digest version upstream 3.6+ writes.
	DigestVersion int32 = 2

	snapPrefix = "snapshot"
	logPrefix  = "log"
)

// Node is one znode as a snapshot stores it. The root has Path "" and
// comes first; a parent comes before its children.
type Node struct {
	Path   string
	Data   []byte // nil is written as a null buffer, and read back as nil
	ACLRef int64
	Stat   proto.StatPersisted
}

// Header is what a snapshot holds besides its nodes.
type Header struct {
	Zxid     int64                 // from the file name: the last zxid applied when the snapshot began
	Sessions map[int64]int32       // session id -> timeout (ms)
	ACLs     map[int64][]proto.ACL // the ACL cache: reference -> list
	Digest   *Digest               // the tree digest after the nodes; nil when absent
}

// Digest is the tree digest upstream writes after the nodes
// (DataTree.ZxidDigest). An empty digest (Zxid 0) means "none known".
type Digest struct {
	Zxid    int64
	Version int32
	Value   int64
}

// Name returns the file name of the snapshot for zxid: snapshot.<hex>.
func Name(zxid int64) string { return fmt.Sprintf("%s.%x", snapPrefix, zxid) }

// sealWriter writes through a buffer while keeping the Adler-32 of
// everything written and the offset.
type sealWriter struct {
	w   *bufio.Writer
	sum hash.Hash32
	off int64
	buf []byte
	enc proto.Encoder
}

func (s *sealWriter) flushEnc() error {
	b := s.enc.Bytes()
	s.sum.Write(b)
	n, err := s.w.Write(b)
	s.off += int64(n)
	s.enc.Reset()
	return err
}

func (s *sealWriter) seal() error {
	s.enc.Long(int64(s.sum.Sum32()))
	s.enc.String("/")
	return s.flushEnc()
}

// Write writes a snapshot of the tree that walk emits, with h's sessions,
// ACL cache and digest, to dir (a dataDir/version-2) as snapshot.<h.Zxid
// hex>, and returns its path. The file appears only once complete and
// synced; a snapshot of the same zxid is replaced. walk calls emit for every
// node, root first and parents before children, and returns emit's error.
func Write(dir string, h Header, walk func(emit func(Node) error) error) (path string, err error) {
	if h.Zxid < 0 {
		return "", fmt.Errorf("snap: write: negative zxid %d", h.Zxid)
	}
	if h.Digest != nil && h.Digest.Version < 2 {
		return "", fmt.Errorf("snap: write: digest version %d: only version 2 and later are written", h.Digest.Version)
	}
	final := filepath.Join(dir, Name(h.Zxid))
	// The temporary file's name ("tmp-snapshot.<zxid>-*") has no
	// "snapshot." prefix, so neither this package nor upstream can take it
	// for a snapshot.
	f, err := durable.Create(final, 0o600)
	if err != nil {
		return "", fmt.Errorf("snap: %w", err)
	}
	defer f.Discard()
	s := &sealWriter{w: bufio.NewWriterSize(f, 256<<10), sum: adler32.New()}
	fail := func(what string, e error) error {
		return fmt.Errorf("snap: write %s: %s: %w", final, what, e)
	}

	s.enc.Int(Magic)
	s.enc.Int(Version)
	s.enc.Long(DBID)
	s.enc.Int(int32(len(h.Sessions)))
	for _, id := range slices.Sorted(maps.Keys(h.Sessions)) {
		s.enc.Long(id)
		s.enc.Int(h.Sessions[id])
	}
	s.enc.Int(int32(len(h.ACLs)))
	for _, ref := range slices.Sorted(maps.Keys(h.ACLs)) {
		s.enc.Long(ref)
		list := h.ACLs[ref]
		s.enc.Int(int32(len(list)))
		for i := range list {
			list[i].Encode(&s.enc)
		}
	}
	if err := s.flushEnc(); err != nil {
		return "", fail("header", err)
	}

	count := 0
	emit := func(n Node) error {
		switch {
		case count == 0 && n.Path != "":
			return fmt.Errorf("first node is %q, want the root \"\"", n.Path)
		case count > 0 && (n.Path == "" || n.Path == "/" || n.Path[0] != '/'):
			return fmt.Errorf("node %d: bad path %q", count, n.Path)
		}
		count++
		s.enc.String(n.Path)
		s.enc.Buffer(n.Data)
		s.enc.Long(n.ACLRef)
		n.Stat.Encode(&s.enc)
		return s.flushEnc()
	}
	if err := walk(emit); err != nil {
		return "", fail("nodes", err)
	}
	if count == 0 {
		return "", fail("nodes", errors.New("no root node"))
	}
	s.enc.String("/")
	if err := s.flushEnc(); err != nil {
		return "", fail("end", err)
	}
	if err := s.seal(); err != nil {
		return "", fail("seal", err)
	}
	if d := h.Digest; d != nil {
		s.enc.Long(d.Zxid)
		s.enc.Int(d.Version)
		s.enc.Long(d.Value)
		if err := s.flushEnc(); err != nil {
			return "", fail("digest", err)
		}
		if err := s.seal(); err != nil {
			return "", fail("seal", err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return "", fail("flush", err)
	}
	if err := f.Commit(); err != nil {
		return "", fmt.Errorf("snap: %w", err)
	}
	return final, nil
}
