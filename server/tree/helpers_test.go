package tree

import (
	"sync"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// event is one recorded watch event.
type event struct {
	Type proto.EventType
	Path string
	Zxid int64
}

// recorder is a Watcher that records its events.
type recorder struct {
	mu  sync.Mutex
	evs []event
}

func (r *recorder) Event(ev proto.WatcherEvent, zxid int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.State != proto.StateSyncConnected {
		panic("watch event with state other than SyncConnected")
	}
	r.evs = append(r.evs, event{ev.Type, ev.Path, zxid})
}

// MayRead lets a recorder see every event.
func (r *recorder) MayRead([]proto.ACL) bool { return true }

// take returns and clears the recorded events.
func (r *recorder) take() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.evs
	r.evs = nil
	return evs
}

// applier applies txns with increasing zxids and times.
type applier struct {
	t    *testing.T
	tr   *Tree
	zxid int64
}

func newApplier(t *testing.T, tr *Tree) *applier { return &applier{t: t, tr: tr, zxid: 0x100000000} }

func (a *applier) hdr(typ proto.OpCode, session int64) *proto.TxnHeader {
	a.zxid++
	return &proto.TxnHeader{ClientID: session, Cxid: int32(a.zxid), Zxid: a.zxid, Time: 1000 * a.zxid, Type: typ}
}

func (a *applier) apply(typ proto.OpCode, session int64, txn proto.Record) Result {
	return a.tr.Apply(a.hdr(typ, session), txn)
}

// parentCV is what the prep stage puts in CreateTxn.ParentCVersion.
func (a *applier) parentCV(path string) int32 {
	parent, _ := parentOf(path)
	info, ok := a.tr.Lookup(parent)
	if !ok {
		return -1
	}
	return info.Stat.Cversion + 1 // what the prep stage uses
}

func (a *applier) create(path string, data []byte, session int64) Result {
	a.t.Helper()
	return a.apply(proto.OpCreate2, session, &proto.CreateTxn{
		Path: path, Data: data, ACL: proto.OpenACLUnsafe, Ephemeral: session != 0, ParentCVersion: a.parentCV(path),
	})
}

func (a *applier) mustCreate(path string, data []byte, session int64) Result {
	a.t.Helper()
	r := a.create(path, data, session)
	if r.Err != proto.ErrOK {
		a.t.Fatalf("create %s: %v", path, r.Err)
	}
	return r
}

func (a *applier) del(path string) Result {
	return a.apply(proto.OpDelete, 0, &proto.DeleteTxn{Path: path})
}

func (a *applier) setData(path string, data []byte) Result {
	info, _ := a.tr.Lookup(path)
	return a.apply(proto.OpSetData, 0, &proto.SetDataTxn{Path: path, Data: data, Version: info.Stat.Version + 1})
}
