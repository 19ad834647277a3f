package tree

import (
	"errors"
	"reflect"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

func TestNewTreeMatchesUpstream(t *testing.T) {
	tr := New()
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		data, st, err := tr.GetData(p, nil)
		if err != nil {
			t.Fatalf("GetData(%s): %v", p, err)
		}
		if len(data) != 0 {
			t.Errorf("%s data = %q, want empty", p, data)
		}
		want := proto.Stat{}
		switch p {
		case "/":
			want.NumChildren = 1
			want.Cversion = -1 // upstream reports 0*2-1 for a root whose child was never "created"
		case "/zookeeper":
			want.NumChildren = 2
			want.Cversion = -2
		case "/zookeeper/config":
			want.Aversion = -1
		}
		if st != want {
			t.Errorf("%s stat = %+v, want %+v", p, st, want)
		}
	}
	acl, _, _ := tr.GetACL("/zookeeper/config")
	if !reflect.DeepEqual(acl, proto.ReadACLUnsafe) {
		t.Errorf("config ACL = %v, want read-only world", acl)
	}
	acl, _, _ = tr.GetACL("/")
	if !reflect.DeepEqual(acl, proto.OpenACLUnsafe) {
		t.Errorf("root ACL = %v, want open", acl)
	}
	if got := tr.ACLCache(); !reflect.DeepEqual(got, map[int64][]proto.ACL{1: proto.ReadACLUnsafe}) {
		t.Errorf("ACL cache = %v", got)
	}
	if n := tr.NodeCount(); n != 5 {
		t.Errorf("NodeCount = %d, want 5 (upstream counts the root twice)", n)
	}
	if n, _ := tr.AllChildrenNumber("/"); n != 3 {
		t.Errorf("AllChildrenNumber(/) = %d, want 3", n)
	}
	if n := tr.ApproximateDataSize(); n != int64(len("/")+len("/zookeeper")+len("/zookeeper/quota")+len("/zookeeper/config")) {
		t.Errorf("ApproximateDataSize = %d", n)
	}
}

func TestCreateStats(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	r := a.mustCreate("/a", []byte("hello"), 0)
	z1 := a.zxid
	want := proto.Stat{Czxid: z1, Mzxid: z1, Pzxid: z1, Ctime: 1000 * z1, Mtime: 1000 * z1, DataLength: 5}
	if r.Stat != want || r.Path != "/a" || r.Op != proto.OpCreate2 {
		t.Fatalf("create result = %+v, want stat %+v", r, want)
	}
	// Ephemeral child: owner shows, parent cversion and pzxid move.
	r = a.mustCreate("/a/e", nil, 0x77)
	z2 := a.zxid
	if r.Stat.EphemeralOwner != 0x77 || r.Stat.DataLength != 0 {
		t.Fatalf("ephemeral stat = %+v", r.Stat)
	}
	_, st, _ := tr.GetData("/a", nil)
	if st.Cversion != 1 || st.NumChildren != 1 || st.Pzxid != z2 || st.Mzxid != z1 || st.Version != 0 {
		t.Fatalf("parent after create = %+v", st)
	}
	if info, _ := tr.Lookup("/a"); info.Persisted.Cversion != 1 {
		t.Fatalf("persisted cversion = %d", info.Persisted.Cversion)
	}
	// Delete: stored cversion stays, client cversion counts the delete.
	if r := a.del("/a/e"); r.Err != proto.ErrOK {
		t.Fatal(r.Err)
	}
	z3 := a.zxid
	_, st, _ = tr.GetData("/a", nil)
	if st.Cversion != 2 || st.NumChildren != 0 || st.Pzxid != z3 {
		t.Fatalf("parent after delete = %+v", st)
	}
	if info, _ := tr.Lookup("/a"); info.Persisted.Cversion != 1 || info.Stat.Cversion != 1 || info.ClientStat.Cversion != 2 {
		t.Fatalf("Lookup after delete: stored cversion %d, prep stat %d, client stat %d; want 1, 1, 2",
			info.Persisted.Cversion, info.Stat.Cversion, info.ClientStat.Cversion)
	}
	// Java 3.8.0 names the next sequential child of /a ...0000000001.
	if info, _ := tr.Lookup("/a"); info.Stat.Cversion != 1 {
		t.Fatal("sequence suffix would differ from Java")
	}
	if got := tr.Ephemerals(0x77, ""); len(got) != 0 {
		t.Fatalf("ephemerals after delete = %v", got)
	}
	// setData: version, mzxid, mtime; czxid/ctime unchanged.
	r = a.setData("/a", []byte("xy"))
	z4 := a.zxid
	want = proto.Stat{Czxid: z1, Mzxid: z4, Pzxid: z3, Ctime: 1000 * z1, Mtime: 1000 * z4, Version: 1, Cversion: 2, DataLength: 2}
	if r.Err != proto.ErrOK || r.Stat != want {
		t.Fatalf("setData = %+v, want %+v", r, want)
	}
	// setACL: aversion only.
	acl := []proto.ACL{{Perms: proto.PermRead, ID: proto.ID{Scheme: "digest", ID: "u:x"}}}
	r = a.apply(proto.OpSetACL, 0, &proto.SetACLTxn{Path: "/a", ACL: acl, Version: 1})
	want.Aversion = 1
	if r.Err != proto.ErrOK || r.Stat != want {
		t.Fatalf("setACL = %+v, want %+v", r, want)
	}
	got, st, _ := tr.GetACL("/a")
	if !reflect.DeepEqual(got, acl) || st != want {
		t.Fatalf("GetACL = %v %+v", got, st)
	}
	if tr.LastZxid() != a.zxid {
		t.Fatalf("LastZxid = %x, want %x", tr.LastZxid(), a.zxid)
	}
}

func TestApplyErrorsAndReplays(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	a.mustCreate("/p", nil, 0)
	a.mustCreate("/p/c", nil, 0)
	zc := a.zxid

	// Create under a missing parent.
	if r := a.apply(proto.OpCreate, 0, &proto.CreateTxn{Path: "/x/y", ParentCVersion: 1}); r.Err != proto.ErrNoNode {
		t.Fatalf("create under missing parent: %v", r.Err)
	}
	// Replayed create of an existing node (OpCreate): NodeExists, and the
	// parent's cversion/pzxid are brought forward as upstream does.
	r := a.apply(proto.OpCreate, 0, &proto.CreateTxn{Path: "/p/c", ParentCVersion: 5})
	zr := a.zxid
	if r.Err != proto.ErrNodeExists {
		t.Fatalf("replayed create: %v", r.Err)
	}
	info, _ := tr.Lookup("/p")
	if info.Persisted.Cversion != 5 || info.Persisted.Pzxid != zr {
		t.Fatalf("parent after replayed create = %+v", info.Persisted)
	}
	// The same with create2 leaves the parent alone (upstream only fixes
	// up OpCreate).
	r = a.apply(proto.OpCreate2, 0, &proto.CreateTxn{Path: "/p/c", ParentCVersion: 9})
	if r.Err != proto.ErrNodeExists {
		t.Fatalf("replayed create2: %v", r.Err)
	}
	if info, _ = tr.Lookup("/p"); info.Persisted.Cversion != 5 {
		t.Fatalf("create2 replay changed cversion to %d", info.Persisted.Cversion)
	}
	// A lower ParentCVersion never moves cversion back.
	a.apply(proto.OpCreate, 0, &proto.CreateTxn{Path: "/p/d", ParentCVersion: 2})
	if info, _ = tr.Lookup("/p"); info.Persisted.Cversion != 5 || info.Persisted.Pzxid != zr {
		t.Fatalf("lower parentCVersion moved parent: %+v", info.Persisted)
	}
	// Delete of a missing child: NoNode, but the parent's pzxid advances.
	r = a.del("/p/zz")
	if r.Err != proto.ErrNoNode || r.Path != "/p/zz" {
		t.Fatalf("delete missing: %+v", r)
	}
	if info, _ = tr.Lookup("/p"); info.Persisted.Pzxid != a.zxid {
		t.Fatalf("pzxid after missing delete = %x, want %x", info.Persisted.Pzxid, a.zxid)
	}
	if r := a.setData("/nope", nil); r.Err != proto.ErrNoNode {
		t.Fatalf("setData missing: %v", r.Err)
	}
	if r := a.apply(proto.OpSetACL, 0, &proto.SetACLTxn{Path: "/nope"}); r.Err != proto.ErrNoNode {
		t.Fatalf("setACL missing: %v", r.Err)
	}
	if r := a.apply(proto.OpError, 0, &proto.ErrorTxn{Err: proto.ErrBadVersion}); r.Err != proto.ErrBadVersion || r.Op != proto.OpError {
		t.Fatalf("error txn: %+v", r)
	}
	if r := a.apply(proto.OpSetData, 0, &proto.DeleteTxn{Path: "/p"}); r.Err != proto.ErrMarshallingError {
		t.Fatalf("mismatched txn type: %v", r.Err)
	}
	if tr.LastZxid() != a.zxid {
		t.Fatalf("LastZxid = %x, want %x (errors still advance it)", tr.LastZxid(), a.zxid)
	}
	// An older zxid does not move LastZxid back.
	tr.Apply(&proto.TxnHeader{Zxid: zc, Type: proto.OpCreateSession}, &proto.CreateSessionTxn{TimeOut: 1})
	if tr.LastZxid() != a.zxid {
		t.Fatalf("LastZxid moved back")
	}
	if _, _, err := tr.GetData("/none", nil); !errors.Is(err, proto.ErrNoNode) {
		t.Fatalf("GetData missing: %v", err)
	}
	if _, err := tr.Exists("/none", nil); !errors.Is(err, proto.ErrNoNode) {
		t.Fatalf("Exists missing: %v", err)
	}
	if _, _, err := tr.GetChildren("/none", nil); !errors.Is(err, proto.ErrNoNode) {
		t.Fatalf("GetChildren missing: %v", err)
	}
	if _, _, err := tr.GetACL("/none"); !errors.Is(err, proto.ErrNoNode) {
		t.Fatalf("GetACL missing: %v", err)
	}
}

func TestCloseSession(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	a.mustCreate("/d", nil, 0)
	for _, p := range []string{"/d/e1", "/d/e2", "/e3"} {
		a.mustCreate(p, []byte("x"), 0x42)
	}
	a.mustCreate("/other", nil, 0x43)
	if got := tr.Ephemerals(0x42, "/d"); !reflect.DeepEqual(got, []string{"/d/e1", "/d/e2"}) {
		t.Fatalf("Ephemerals(/d) = %v", got)
	}
	if got := tr.SessionEphemerals(0x42); !reflect.DeepEqual(got, []string{"/d/e1", "/d/e2", "/e3"}) {
		t.Fatalf("SessionEphemerals = %v", got)
	}
	if n := tr.EphemeralCount(); n != 4 {
		t.Fatalf("EphemeralCount = %d", n)
	}
	// The txn lists only one path; the rest still go (upstream deletes the
	// leftovers it knows of).
	a.apply(proto.OpCloseSession, 0x42, &proto.CloseSessionTxn{Paths2Delete: []string{"/e3"}})
	for _, p := range []string{"/d/e1", "/d/e2", "/e3"} {
		if _, err := tr.Exists(p, nil); err == nil {
			t.Errorf("%s survived its session", p)
		}
	}
	if _, err := tr.Exists("/other", nil); err != nil {
		t.Errorf("other session's node deleted")
	}
	// A nil txn (old closeSession) deletes all.
	a.apply(proto.OpCloseSession, 0x43, nil)
	if n := tr.EphemeralCount(); n != 0 {
		t.Fatalf("EphemeralCount = %d after closes", n)
	}
	_, st, _ := tr.GetData("/d", nil)
	if st.NumChildren != 0 || st.Cversion != 4 {
		t.Fatalf("/d after close = %+v", st)
	}
}
