package txnprep

import (
	"fmt"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// treeStore adapts a tree for tests.
type treeStore struct{ t *tree.Tree }

func (s treeStore) Lookup(path string) (Node, bool) {
	info, ok := s.t.Lookup(path)
	if !ok {
		return Node{}, false
	}
	return Node{Stat: info.Stat, ACL: info.ACL}, true
}

func (s treeStore) SessionEphemerals(id int64) []string { return s.t.SessionEphemerals(id) }

func create(path string, mode proto.CreateMode) *proto.Request {
	return &proto.Request{SessionID: 1, Op: proto.OpCreate, Body: &proto.CreateRequest{Path: path, ACL: proto.OpenACLUnsafe, Flags: mode}}
}

// Pipelined creates under the root must see each other's pending changes:
// the second one's sequence number counts the first (a regression: the
// root's pending record was once kept under "" and looked up under "/").
func TestPipelinedCreatesUnderRoot(t *testing.T) {
	p := New(Options{Store: treeStore{tree.New()}})
	first, err := p.Prepare(create("/a", proto.ModePersistent), 1, 0)
	if err != nil || first.Err != proto.ErrOK {
		t.Fatalf("create /a: %v %v", first, err)
	}
	second, err := p.Prepare(create("/b", proto.ModePersistentSequential), 2, 0)
	if err != nil || second.Err != proto.ErrOK {
		t.Fatalf("create /b: %v %v", second, err)
	}
	// A fresh tree's root has cversion 0 (/zookeeper is created at
	// startup, not counted), so after /a the next sequence is 1, as Java.
	if got := second.Body.(*proto.CreateTxn).Path; got != "/b0000000001" {
		t.Fatalf("sequential create after a pending create under /: %s, want /b0000000001", got)
	}
	dup, _ := p.Prepare(create("/a", proto.ModePersistent), 3, 0)
	if dup.Err != proto.ErrNodeExists {
		t.Fatalf("create of a pending node: %v, want NODEEXISTS", dup.Err)
	}
}

// Validation order decides the error code: upstream checks the parent
// before the node, and ACLs before versions.
func TestValidationOrder(t *testing.T) {
	p := New(Options{Store: treeStore{tree.New()}})
	cases := []struct {
		name string
		req  *proto.Request
		want proto.ErrCode
	}{
		{"bad flags", create("/x", 42), proto.ErrBadArguments},
		{"missing parent", create("/no/x", proto.ModePersistent), proto.ErrNoNode},
		{"relative path", create("/a/.", proto.ModePersistent), proto.ErrNoNode},
		{"empty acl", &proto.Request{Op: proto.OpCreate, Body: &proto.CreateRequest{Path: "/x"}}, proto.ErrInvalidACL},
		{"ttl disabled", &proto.Request{Op: proto.OpCreateTTL, Body: &proto.CreateTTLRequest{Path: "/t", ACL: proto.OpenACLUnsafe, Flags: proto.ModePersistentWithTTL, TTL: 10}}, proto.ErrUnimplemented},
		{"delete root", &proto.Request{Op: proto.OpDelete, Body: &proto.DeleteRequest{Path: "/", Version: -1}}, proto.ErrBadArguments},
		{"setData missing", &proto.Request{Op: proto.OpSetData, Body: &proto.SetDataRequest{Path: "/none", Version: -1}}, proto.ErrNoNode},
		{"setData bad path", &proto.Request{Op: proto.OpSetData, Body: &proto.SetDataRequest{Path: "none", Version: -1}}, proto.ErrBadArguments},
		{"reconfig disabled", &proto.Request{Op: proto.OpReconfig, Body: &proto.ReconfigRequest{}}, proto.ErrReconfigDisabled},
	}
	for i, tc := range cases {
		txn, err := p.Prepare(tc.req, int64(i+1), 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if txn.Err != tc.want || txn.Header.Type != proto.OpError {
			t.Errorf("%s: got %v (type %v), want %v", tc.name, txn.Err, txn.Header.Type, tc.want)
		}
		if txn.Header.Zxid != int64(i+1) {
			t.Errorf("%s: a failed write must still consume its zxid", tc.name)
		}
	}
}

// The overlay forgets exactly what the store has applied: an entry stays
// while a later change to the same path is still in flight.
func TestAppliedDropsOnlyWhatTheStoreHas(t *testing.T) {
	tr := tree.New()
	p := New(Options{Store: treeStore{tr}})
	mustPrep := func(req *proto.Request, zxid int64) *Txn {
		t.Helper()
		txn, err := p.Prepare(req, zxid, 0)
		if err != nil || txn.Err != proto.ErrOK {
			t.Fatalf("prepare %v at %d: %v %v", req.Op, zxid, txn, err)
		}
		return txn
	}
	apply := func(txn *Txn) {
		hdr := txn.Header
		tr.Apply(&hdr, txn.Body)
		p.Applied(hdr.Zxid)
	}
	t1 := mustPrep(create("/a", proto.ModePersistent), 1)
	t2 := mustPrep(&proto.Request{Op: proto.OpSetData, Body: &proto.SetDataRequest{Path: "/a", Data: []byte("x"), Version: 0}}, 2)
	apply(t1)
	// /a's pending setData (zxid 2) must still be visible: a second setData
	// with version 1 is valid only if prep sees version 1.
	if txn, _ := p.Prepare(&proto.Request{Op: proto.OpSetData, Body: &proto.SetDataRequest{Path: "/a", Version: 1}}, 3, 0); txn.Err != proto.ErrOK {
		t.Fatalf("setData after a pending setData: %v", txn.Err)
	}
	apply(t2)
	if p.Outstanding() == 0 {
		t.Fatal("the overlay forgot a change (zxid 3) the store has not applied")
	}
	p.Applied(3)
	if n := p.Outstanding(); n != 0 {
		t.Fatalf("%d overlay entries left after everything was applied", n)
	}
	// Many in flight, applied in order: the overlay empties.
	for z := int64(10); z < 5010; z++ {
		mustPrep(&proto.Request{Op: proto.OpCheck, Body: &proto.CheckVersionRequest{Path: "/", Version: -1}}, z)
		mustPrep(create(fmt.Sprintf("/n%d", z), proto.ModePersistent), z)
	}
	p.Applied(5010)
	if n := p.Outstanding(); n != 0 {
		t.Fatalf("%d overlay entries left after applying all of them", n)
	}
}

// prepApply prepares req at zxid, applies the txn to tr and reports the
// prepared txn.
func prepApply(t *testing.T, p *Preparer, tr *tree.Tree, req *proto.Request, zxid int64) *Txn {
	t.Helper()
	txn, err := p.Prepare(req, zxid, 0)
	if err != nil {
		t.Fatalf("prepare %v at %d: %v", req.Op, zxid, err)
	}
	hdr := txn.Header
	tr.Apply(&hdr, txn.Body)
	p.Applied(zxid)
	return txn
}

// A deleteContainer from a client is refused as upstream 3.8 answers it
// (BADARGUMENTS, a zxid spent on the error txn), whatever the node and its
// ACL: only the server's container reaper issues that op.
func TestDeleteContainerRefusedFromClients(t *testing.T) {
	tr := tree.New()
	p := New(Options{Store: treeStore{tr}})
	adminOnly := []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "digest", ID: "admin:x"}}}
	admin := []proto.ID{{Scheme: "digest", ID: "admin:x"}}
	prepApply(t, p, tr, &proto.Request{Op: proto.OpCreateContainer, Auth: admin,
		Body: &proto.CreateRequest{Path: "/c", ACL: adminOnly, Flags: proto.ModeContainer}}, 1)
	prepApply(t, p, tr, &proto.Request{Op: proto.OpCreate, Auth: admin,
		Body: &proto.CreateRequest{Path: "/c/k", ACL: adminOnly}}, 2)
	prepApply(t, p, tr, &proto.Request{Op: proto.OpDelete, Auth: admin,
		Body: &proto.DeleteRequest{Path: "/c/k", Version: -1}}, 3)
	prepApply(t, p, tr, &proto.Request{Op: proto.OpCreate, Auth: admin,
		Body: &proto.CreateRequest{Path: "/empty", ACL: adminOnly}}, 4)

	zxid := int64(5)
	for _, path := range []string{"/c", "/empty", "/missing", "/zookeeper"} {
		req := &proto.Request{SessionID: 7, Op: proto.OpDeleteContainer, Body: &proto.DeleteRequest{Path: path, Version: -1}}
		txn := prepApply(t, p, tr, req, zxid)
		if txn.Err != proto.ErrBadArguments || txn.Header.Type != proto.OpError || txn.Header.Zxid != zxid {
			t.Errorf("client deleteContainer %s: err %v type %v zxid %d, want BADARGUMENTS as an error txn at %d",
				path, txn.Err, txn.Header.Type, txn.Header.Zxid, zxid)
		}
		zxid++
	}
	if _, ok := tr.Lookup("/c"); !ok {
		t.Fatal("a client's deleteContainer removed the container")
	}
	reap := &proto.Request{Op: proto.OpDeleteContainer, FromServer: true, Body: &proto.DeleteRequest{Path: "/c", Version: -1}}
	if txn := prepApply(t, p, tr, reap, zxid); txn.Err != proto.ErrOK {
		t.Fatalf("the reaper's deleteContainer: %v", txn.Err)
	}
	if _, ok := tr.Lookup("/c"); ok {
		t.Fatal("the reaper's deleteContainer left the container")
	}
}

// A create (or create2) whose flags say container is logged as upstream 3.8
// logs it: a plain CreateTxn, not ephemeral, so the tree holds a persistent
// node; only createContainer (19) makes a CreateContainerTxn. go-zookeeper's
// Create(path, data, FlagContainer, acl) is the former.
func TestCreateWithContainerFlag(t *testing.T) {
	tr := tree.New()
	p := New(Options{Store: treeStore{tr}})
	for i, op := range []proto.OpCode{proto.OpCreate, proto.OpCreate2} {
		path := fmt.Sprintf("/f%d", i)
		txn := prepApply(t, p, tr, &proto.Request{SessionID: 9, Op: op,
			Body: &proto.CreateRequest{Path: path, ACL: proto.OpenACLUnsafe, Flags: proto.ModeContainer}}, int64(i+1))
		if txn.Err != proto.ErrOK || txn.Header.Type != op {
			t.Fatalf("%v with container flags: err %v type %v", op, txn.Err, txn.Header.Type)
		}
		ct, ok := txn.Body.(*proto.CreateTxn)
		if !ok || ct.Ephemeral || ct.Path != path {
			t.Fatalf("%v with container flags made %#v, want a non-ephemeral CreateTxn of %s", op, txn.Body, path)
		}
		info, ok := tr.Lookup(path)
		if !ok || info.Stat.EphemeralOwner != 0 {
			t.Fatalf("%v with container flags: node %v owner %#x, want a persistent node", op, ok, info.Stat.EphemeralOwner)
		}
	}
	txn := prepApply(t, p, tr, &proto.Request{Op: proto.OpCreateContainer,
		Body: &proto.CreateRequest{Path: "/c", ACL: proto.OpenACLUnsafe, Flags: proto.ModeContainer}}, 3)
	if _, ok := txn.Body.(*proto.CreateContainerTxn); !ok || txn.Header.Type != proto.OpCreateContainer {
		t.Fatalf("createContainer made %T (type %v)", txn.Body, txn.Header.Type)
	}
	if info, _ := tr.Lookup("/c"); info.Stat.EphemeralOwner != ContainerOwner {
		t.Fatalf("createContainer: owner %#x, want the container owner", info.Stat.EphemeralOwner)
	}
}

// FixupACL drops repeated entries keeping the first of each, in order, as
// upstream removeDuplicates (BenchmarkFixupACL shows it linear in the list).
func TestFixupACLDropsDuplicatesInOrder(t *testing.T) {
	ip := func(perms int32, addr string) proto.ACL {
		return proto.ACL{Perms: perms, ID: proto.ID{Scheme: "ip", ID: addr}}
	}
	world := proto.OpenACLUnsafe[0]
	in := []proto.ACL{ip(1, "10.0.0.1"), world, ip(1, "10.0.0.1"), ip(2, "10.0.0.1"), world, ip(1, "10.0.0.2"), ip(2, "10.0.0.1")}
	got, err := FixupACL(in, nil, tree.Providers{})
	if err != nil {
		t.Fatal(err)
	}
	want := []proto.ACL{ip(1, "10.0.0.1"), world, ip(2, "10.0.0.1"), ip(1, "10.0.0.2")}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("FixupACL(%v) = %v, want %v", in, got, want)
	}
}

// A closeSession lists every ephemeral the session owns, committed or
// still in the overlay, sorted, and none the overlay has deleted
// (BenchmarkCloseSession shows it O(n log n) in the ephemerals).
func TestCloseSessionListsEphemeralsSorted(t *testing.T) {
	tr := tree.New()
	p := New(Options{Store: treeStore{tr}})
	zxid := int64(0)
	eph := func(path string) *proto.Request {
		return &proto.Request{SessionID: 5, Op: proto.OpCreate, Body: &proto.CreateRequest{Path: path, ACL: proto.OpenACLUnsafe, Flags: proto.ModeEphemeral}}
	}
	for i := 999; i >= 0; i-- {
		zxid++
		prepApply(t, p, tr, eph(fmt.Sprintf("/e%04d", i*7%1000)), zxid)
	}
	// In flight: one more ephemeral, and the delete of a committed one.
	for _, req := range []*proto.Request{eph("/e-pending"), {SessionID: 5, Op: proto.OpDelete, Body: &proto.DeleteRequest{Path: "/e0003", Version: -1}}} {
		zxid++
		if txn, err := p.Prepare(req, zxid, 0); err != nil || txn.Err != proto.ErrOK {
			t.Fatalf("prepare %v: %v %v", req.Op, txn, err)
		}
	}
	zxid++
	txn, err := p.Prepare(&proto.Request{SessionID: 5, Op: proto.OpCloseSession}, zxid, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := txn.Body.(*proto.CloseSessionTxn).Paths2Delete
	want := []string{"/e-pending"}
	for i := range 1000 {
		if i != 3 {
			want = append(want, fmt.Sprintf("/e%04d", i))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("closeSession lists %d paths %v..., want %d %v...", len(got), got[:min(5, len(got))], len(want), want[:5])
	}
}
