package tree_test

import (
	"testing"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/wal"
)

// testdata/java-3.8.0/log/log.1 is the transaction log Debian's ZooKeeper
// 3.8.0 wrote (trimmed of its zero preallocation) while two kazoo clients
// ran ~500 seeded random operations (creates of every mode including
// sequential and ephemeral, deletes and setData with right and wrong
// versions, setACL, multis that commit and fail, session closes) and a Java
// client made containers, TTL nodes, persistent watches and a quota. Java
// logs its tree digest after every txn; replaying the log through Apply
// must reproduce each one.
func TestReplayJavaLogDigests(t *testing.T) {
	tr := tree.New()
	n, checked := 0, 0
	kinds := map[proto.OpCode]int{}
	missing := map[proto.OpCode]int{}
	err := wal.ReadFrom("testdata/java-3.8.0/log", 0, func(zxid int64, rec []byte) error {
		lt, err := proto.DecodeLoggedTxn(rec)
		if err != nil {
			t.Fatalf("zxid %x: %v", zxid, err)
		}
		r := tr.Apply(&lt.Header, lt.Body)
		n++
		kinds[lt.Header.Type]++
		if lt.Header.Type != proto.OpError && lt.Header.Type != proto.OpMulti && r.Err != proto.ErrOK {
			t.Fatalf("zxid %x %v: Apply error %v on a txn Java applied", zxid, lt.Header.Type, r.Err)
		}
		if lt.Digest == nil {
			missing[lt.Header.Type]++
		}
		if lt.Digest != nil {
			checked++
			if lt.Digest.Version != tree.DigestVersion {
				t.Fatalf("zxid %x: digest version %d", zxid, lt.Digest.Version)
			}
			if got := tr.Digest(); got != lt.Digest.TreeDigest {
				t.Fatalf("zxid %x (%v %+v): digest %x, Java logged %x", zxid, lt.Header.Type, lt.Body, got, lt.Digest.TreeDigest)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d txns, %d digests checked; by type %v", n, checked, kinds)
	// Java logs a digest with every txn but error txns.
	for op, c := range missing {
		if op != proto.OpError {
			t.Errorf("%d %v txns without a digest", c, op)
		}
	}
	if checked < 100 {
		t.Fatalf("only %d digests checked", checked)
	}
	for _, op := range []proto.OpCode{proto.OpCreate, proto.OpCreateContainer, proto.OpCreateTTL, proto.OpDelete,
		proto.OpSetData, proto.OpSetACL, proto.OpMulti, proto.OpError, proto.OpCreateSession, proto.OpCloseSession} {
		if kinds[op] == 0 {
			t.Errorf("fixture has no %v txn (%v)", op, kinds)
		}
	}
	if tr.LastZxid() != int64(n) {
		t.Fatalf("LastZxid %x after %d txns", tr.LastZxid(), n)
	}
}
