package replica

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

type closed []int64

func (c *closed) CloseSession(id int64) { *c = append(*c, id) }

func newTestReplica(t *testing.T) *Replica {
	t.Helper()
	now := time.UnixMilli(1_000_000)
	return New(Options{ServerID: 1, TickMs: 100, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return now }})
}

// TestApplySessions: createSession and closeSession txns change the
// session table, and a closeSession closes the session's connection.
func TestApplySessions(t *testing.T) {
	r := newTestReplica(t)
	var c closed
	r.SetSessionCloser(&c)
	id := r.NewSessionID()
	r.Apply(&proto.TxnHeader{ClientID: id, Zxid: 1, Type: proto.OpCreateSession}, &proto.CreateSessionTxn{TimeOut: 4000})
	if got := r.Sessions(); got[id] != 4000 || r.LastApplied() != 1 {
		t.Fatalf("after createSession: sessions %v, last applied %d", got, r.LastApplied())
	}
	if live, known := r.Touch(id); !live || !known {
		t.Fatalf("Touch of a live session = %v, %v", live, known)
	}
	r.SetClosing(id)
	if live, known := r.Touch(id); live || !known {
		t.Fatalf("Touch of a closing session = %v, %v; want false, true", live, known)
	}
	r.Apply(&proto.TxnHeader{ClientID: id, Zxid: 2, Type: proto.OpCloseSession}, nil)
	if len(r.Sessions()) != 0 || len(c) != 1 || c[0] != id {
		t.Fatalf("after closeSession: sessions %v, closed %v", r.Sessions(), c)
	}
	if live, known := r.Touch(id); live || known {
		t.Fatalf("Touch of a closed session = %v, %v", live, known)
	}
	if !r.CheckSessionPassword(id, r.SessionPassword(id)) || r.CheckSessionPassword(id+1, r.SessionPassword(id)) {
		t.Fatal("session passwords do not check")
	}
}

// TestReplaceFollowsPrep: after Replace, the prep stage sees the new tree
// and the session table holds exactly the new sessions.
func TestReplaceFollowsPrep(t *testing.T) {
	r := newTestReplica(t)
	r.Apply(&proto.TxnHeader{ClientID: 7, Zxid: 1, Type: proto.OpCreateSession}, &proto.CreateSessionTxn{TimeOut: 4000})

	other := tree.New()
	other.Apply(&proto.TxnHeader{Zxid: 5, Type: proto.OpCreate}, &proto.CreateTxn{Path: "/x", ACL: proto.OpenACLUnsafe, ParentCVersion: -1})
	r.Replace(other, map[int64]int32{9: 6000})
	if r.LastApplied() != 5 || r.Tree() != other {
		t.Fatalf("after Replace: last applied %d", r.LastApplied())
	}
	if got := r.Sessions(); len(got) != 1 || got[9] != 6000 {
		t.Fatalf("sessions after Replace = %v", got)
	}
	txn, err := r.Prep().Prepare(&proto.Request{SessionID: 9, Op: proto.OpCreate,
		Body: &proto.CreateRequest{Path: "/x", ACL: proto.OpenACLUnsafe}}, 6, 0)
	if err != nil {
		t.Fatal(err)
	}
	if txn.Err != proto.ErrNodeExists {
		t.Fatalf("prep of a create of /x in the new tree: %v, want NODEEXISTS", txn.Err)
	}
}

// TestApplyAllocatesNothingMore: the replica adds no allocation to the
// tree's own for a write (the standalone apply loop's hot path).
func TestApplyAllocatesNothingMore(t *testing.T) {
	create := &proto.CreateTxn{Path: "/k", ACL: proto.OpenACLUnsafe, ParentCVersion: -1}
	set := &proto.SetDataTxn{Path: "/k", Data: make([]byte, 64), Version: -1}
	measure := func(apply func(*proto.TxnHeader, proto.Record) tree.Result) float64 {
		apply(&proto.TxnHeader{Zxid: 1, Type: proto.OpCreate}, create)
		zxid := int64(1)
		return testing.AllocsPerRun(1000, func() {
			zxid++
			hdr := proto.TxnHeader{Zxid: zxid, Type: proto.OpSetData}
			apply(&hdr, set)
		})
	}
	direct := measure(tree.New().Apply)
	r := newTestReplica(t)
	viaReplica := measure(r.Apply)
	t.Logf("allocations per setData: tree.Apply %.1f, replica.Apply %.1f", direct, viaReplica)
	if viaReplica > direct {
		t.Fatalf("replica.Apply allocates %.1f per setData, tree.Apply %.1f", viaReplica, direct)
	}
}
