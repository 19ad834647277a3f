package txnprep

import (
	"testing"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// quotaFixture is a tree with /q under a quota whose zookeeper_limits
// node holds limits, written as zkCli's setquota writes them, and a
// Preparer over it that applies what it prepares.
type quotaFixture struct {
	t    *testing.T
	tr   *tree.Tree
	p    *Preparer
	zxid int64
}

func newQuotaFixture(t *testing.T, limits string, enforce bool) *quotaFixture {
	f := &quotaFixture{t: t, tr: tree.New()}
	opts := Options{Store: treeStore{f.tr}}
	if enforce {
		opts.Quotas = f.tr
	}
	f.p = New(opts)
	for _, n := range []struct{ path, data string }{
		{"/q", ""}, {"/zookeeper/quota/q", ""},
		{"/zookeeper/quota/q/zookeeper_limits", limits},
		{"/zookeeper/quota/q/zookeeper_stats", "count=0,bytes=0"},
	} {
		f.mustDo(createData(n.path, n.data), proto.ErrOK)
	}
	return f
}

func createData(path, data string) *proto.Request {
	return &proto.Request{SessionID: 1, Op: proto.OpCreate, Body: &proto.CreateRequest{Path: path, Data: []byte(data), ACL: proto.OpenACLUnsafe}}
}

func setData(path, data string, version int32) *proto.Request {
	return &proto.Request{SessionID: 1, Op: proto.OpSetData, Body: &proto.SetDataRequest{Path: path, Data: []byte(data), Version: version}}
}

// mustDo prepares req, checks its result and applies the txn, as the
// write path does.
func (f *quotaFixture) mustDo(req *proto.Request, want proto.ErrCode) {
	f.t.Helper()
	f.zxid++
	txn, err := f.p.Prepare(req, f.zxid, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	if txn.Err != want {
		f.t.Fatalf("%v %v: got %v, want %v", req.Op, opPath(req.Body), txn.Err, want)
	}
	f.tr.Apply(&txn.Header, txn.Body)
	f.p.Applied(f.zxid)
}

// With zookeeper.enforceQuota, a create or setData that would take a
// quota over a hard limit fails with QUOTAEXCEEDED (-125), as upstream
// 3.7+; today's server only counted.
func TestQuotaHardLimits(t *testing.T) {
	f := newQuotaFixture(t, "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=3", true)
	// /q itself counts: 1 node, 0 bytes.
	f.mustDo(createData("/q/a", "12345"), proto.ErrOK) // 2 nodes, 5 bytes
	f.mustDo(createData("/q/b", ""), proto.ErrOK)      // 3 nodes
	f.mustDo(createData("/q/c", ""), proto.ErrQuotaExceeded)
	f.mustDo(createData("/q/a/deeper", ""), proto.ErrQuotaExceeded)
	f.mustDo(setData("/q/b", "123456", -1), proto.ErrQuotaExceeded) // 11 bytes
	f.mustDo(setData("/q/b", "12345", -1), proto.ErrOK)             // 10 bytes
	f.mustDo(setData("/q/a", "", -1), proto.ErrOK)                  // shrinking is fine
	// Upstream checks the quota after the ACL and before the version.
	f.mustDo(setData("/q/b", "1234567890a", 7), proto.ErrQuotaExceeded) // 11 bytes
	// Outside the quota nothing is limited.
	f.mustDo(createData("/other", "0123456789abcdef"), proto.ErrOK)
	// A failed multi op reports the quota error too.
	multi := &proto.Request{SessionID: 1, Op: proto.OpMulti, Body: &proto.MultiRequest{Ops: []proto.MultiOp{
		{Header: proto.MultiHeader{Type: proto.OpCreate}, Op: &proto.CreateRequest{Path: "/q/d", ACL: proto.OpenACLUnsafe}},
	}}}
	f.mustDo(multi, proto.ErrQuotaExceeded)
}

// Soft limits are only counted, and without enforceQuota nothing is
// enforced.
func TestQuotaSoftOrNotEnforced(t *testing.T) {
	soft := newQuotaFixture(t, "count=2,bytes=1", true)
	soft.mustDo(createData("/q/a", "123"), proto.ErrOK)
	soft.mustDo(createData("/q/b", "123"), proto.ErrOK)
	off := newQuotaFixture(t, "count=-1,bytes=-1=;byteHardLimit=1;countHardLimit=1", false)
	off.mustDo(createData("/q/a", "123"), proto.ErrOK)
	off.mustDo(setData("/q/a", "123456", -1), proto.ErrOK)
}
