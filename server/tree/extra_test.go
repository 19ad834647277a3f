package tree

import (
	"errors"
	"reflect"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// TestQuotaStatsMatchJava replays a kazoo session that was run against Java
// ZooKeeper 3.8.0 (Debian) and expects the stats data it showed: the stats
// node's data tracks count and bytes of the quota'd subtree, while its
// mzxid and version never change.
func TestQuotaStatsMatchJava(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	stats := "/zookeeper/quota/q/zookeeper_stats"
	a.mustCreate("/q", []byte(""), 0)
	a.mustCreate("/q/a", []byte("xyz"), 0)
	a.mustCreate("/zookeeper/quota/q", nil, 0)
	a.mustCreate("/zookeeper/quota/q/zookeeper_limits", []byte("count=10,bytes=-1"), 0)
	a.mustCreate(stats, []byte("count=0,bytes=0"), 0)
	_, st0, _ := tr.GetData(stats, nil)
	check := func(what, want string) {
		t.Helper()
		data, st, err := tr.GetData(stats, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != want {
			t.Fatalf("%s: stats = %q, want %q", what, data, want)
		}
		if st.Mzxid != st0.Mzxid || st.Mtime != st0.Mtime || st.Version != 0 || st.DataLength != int32(len(data)) {
			t.Fatalf("%s: stats stat changed: %+v (was %+v)", what, st, st0)
		}
	}
	check("after setup", "count=2,bytes=3")
	a.mustCreate("/q/b", []byte("12345"), 0)
	check("after create b", "count=3,bytes=8")
	a.setData("/q/a", []byte("1"))
	check("after set a", "count=3,bytes=6")
	a.del("/q/b")
	check("after delete b", "count=2,bytes=1")
	a.mustCreate("/other", []byte("zz"), 0)
	check("after unrelated", "count=2,bytes=1")
	a.setData("/zookeeper/quota/q/zookeeper_limits", []byte("count=10,bytes=-1=;countHardLimit=5"))
	a.mustCreate("/q/c", []byte("12"), 0)
	check("after create c", "count=3,bytes=3")
	// Removing the limits node ends tracking.
	a.del("/zookeeper/quota/q/zookeeper_limits")
	a.mustCreate("/q/d", []byte("1234"), 0)
	check("after quota removed", "count=3,bytes=3")
}

func TestStatsTrackFormat(t *testing.T) {
	for in, want := range map[string]string{
		"":                                    "count=-1,bytes=-1",
		"count=1,bytes=2":                     "count=1,bytes=2",
		"count=1,bytes=2=;countHardLimit=5":   "count=1,bytes=2=;countHardLimit=5",
		"byteHardLimit=9;count=1;bytes=2;x=3": "count=1,bytes=2=;byteHardLimit=9;x=3",
	} {
		if got := string(parseStats([]byte(in)).bytes()); got != want {
			t.Errorf("StatsTrack(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContainersAndTTLs(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	mk := func(typ proto.OpCode, txn proto.Record) Result {
		t.Helper()
		r := a.apply(typ, 0x99, txn)
		if r.Err != proto.ErrOK {
			t.Fatalf("%v: %v", typ, r.Err)
		}
		return r
	}
	r := mk(proto.OpCreateContainer, &proto.CreateContainerTxn{Path: "/c", ParentCVersion: a.parentCV("/c")})
	if r.Stat.EphemeralOwner != 0 || r.Op != proto.OpCreateContainer {
		t.Fatalf("container create result %+v (Java reports owner 0)", r)
	}
	info, _ := tr.Lookup("/c")
	if info.Kind != KindContainer || info.Persisted.EphemeralOwner != ContainerOwner ||
		info.Stat.EphemeralOwner != ContainerOwner || info.ClientStat.EphemeralOwner != 0 {
		t.Fatalf("container info %+v", info)
	}
	r = mk(proto.OpCreateTTL, &proto.CreateTTLTxn{Path: "/t", ParentCVersion: a.parentCV("/t"), TTL: 5000})
	tCreated := 1000 * a.zxid
	if r.Stat.EphemeralOwner != 0 {
		t.Fatalf("ttl create owner %x (Java reports 0)", r.Stat.EphemeralOwner)
	}
	info, _ = tr.Lookup("/t")
	if info.Kind != KindTTL || info.TTL != 5000 || uint64(info.Persisted.EphemeralOwner) != 0xff00000000001388 {
		t.Fatalf("ttl info %+v owner %x", info, info.Persisted.EphemeralOwner)
	}
	mk(proto.OpCreateContainer, &proto.CreateContainerTxn{Path: "/c2", ParentCVersion: a.parentCV("/c2")})
	if got := tr.Ephemerals(0x99, ""); len(got) != 0 {
		t.Fatalf("containers/TTLs indexed as ephemerals: %v", got)
	}
	// A fresh container is not a candidate; nor a TTL node before its time.
	if got := tr.ExpiredContainersAndTTLs(tCreated+5000, 0); len(got) != 0 {
		t.Fatalf("candidates = %v", got)
	}
	// A container that had a child and is empty again is.
	a.mustCreate("/c/x", nil, 0)
	if got := tr.ExpiredContainersAndTTLs(tCreated+5001, 0); !reflect.DeepEqual(got, []string{"/t"}) {
		t.Fatalf("candidates with child and expired ttl = %v", got)
	}
	a.del("/c/x")
	if got := tr.ExpiredContainersAndTTLs(tCreated+5001, 0); !reflect.DeepEqual(got, []string{"/c", "/t"}) {
		t.Fatalf("candidates = %v", got)
	}
	if got := tr.ExpiredContainersAndTTLs(tCreated+5001, 1); !reflect.DeepEqual(got, []string{"/c"}) {
		t.Fatalf("candidates limited to 1 = %v", got)
	}
	// A setData renews a TTL node (mtime).
	a.setData("/t", []byte("x"))
	if got := tr.ExpiredContainersAndTTLs(tCreated+5001, 0); !reflect.DeepEqual(got, []string{"/c"}) {
		t.Fatalf("after touching ttl = %v", got)
	}
	// Never-used containers only with maxNeverUsed.
	if got := tr.ExpiredContainersAndTTLsNeverUsed(1<<50, 0, 1000); !slicesContain(got, "/c2") {
		t.Fatalf("never-used container not listed: %v", got)
	}
	// Deleting removes them from the sets.
	mk(proto.OpDeleteContainer, &proto.DeleteTxn{Path: "/c"})
	a.del("/t")
	if c, tt := tr.Containers(), tr.TTLNodes(); !reflect.DeepEqual(c, []string{"/c2"}) || len(tt) != 0 {
		t.Fatalf("after deletes: containers %v ttls %v", c, tt)
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestKindOf(t *testing.T) {
	for owner, want := range map[int64]Kind{
		0:                  KindPersistent,
		0x0100000000000001: KindEphemeral,
		ContainerOwner:     KindContainer,
		TTLOwner(1):        KindTTL,
		TTLOwner(MaxTTL):   KindTTL,
		-1:                 KindEphemeral, // extended byte with a non-TTL type id
		-0xfffefffffffffb:  KindEphemeral, // 0xff00010000000005
	} {
		if got := KindOf(owner); got != want {
			t.Errorf("KindOf(%x) = %v, want %v", owner, got, want)
		}
	}
	if TTLOf(TTLOwner(12345)) != 12345 || MaxTTL != 0xffffffffff {
		t.Errorf("TTL encoding: %x %x", TTLOf(TTLOwner(12345)), MaxTTL)
	}
}

func TestMulti(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	a.mustCreate("/m", nil, 0)
	w := &recorder{}
	tr.GetChildren("/m", w)
	tr.GetData("/m", w)
	sub := func(typ proto.OpCode, r proto.Record) proto.Txn { return proto.Txn{Type: typ, Data: proto.Marshal(r)} }
	r := a.apply(proto.OpMulti, 5, &proto.MultiTxn{Txns: []proto.Txn{
		sub(proto.OpCreate, &proto.CreateTxn{Path: "/m/1", Data: []byte("a"), ParentCVersion: 1}),
		sub(proto.OpCreate2, &proto.CreateTxn{Path: "/m/2", Ephemeral: true, ParentCVersion: 2}),
		sub(proto.OpSetData, &proto.SetDataTxn{Path: "/m", Data: []byte("zz"), Version: 1}),
		sub(proto.OpCheck, &proto.CheckVersionTxn{Path: "/m", Version: 2}),
		sub(proto.OpDelete, &proto.DeleteTxn{Path: "/m/1"}),
	}})
	z := a.zxid
	if r.Err != proto.ErrOK || r.Op != proto.OpMulti || len(r.Multi) != 5 {
		t.Fatalf("multi = %+v", r)
	}
	for i, want := range []proto.OpCode{proto.OpCreate, proto.OpCreate2, proto.OpSetData, proto.OpCheck, proto.OpDelete} {
		if r.Multi[i].Op != want || r.Multi[i].Err != proto.ErrOK {
			t.Errorf("op %d = %+v, want %v", i, r.Multi[i], want)
		}
	}
	if r.Multi[1].Stat.EphemeralOwner != 5 || r.Multi[1].Stat.Czxid != z || r.Multi[2].Stat.Version != 1 || r.Multi[4].Path != "/m/1" {
		t.Fatalf("multi results = %+v", r.Multi)
	}
	_, st, _ := tr.GetData("/m", nil)
	if st.Cversion != 3 || st.NumChildren != 1 || st.Pzxid != z || st.Mzxid != z {
		t.Fatalf("/m after multi = %+v", st)
	}
	// Every event carries the multi's zxid; the one-shot child watch fires
	// once (first child change), the data watch once.
	expectEvents(t, "multi", w,
		event{proto.EventNodeChildrenChanged, "/m", z},
		event{proto.EventNodeDataChanged, "/m", z})

	// A failed multi: every op an ErrorTxn, nothing applied, Err is the
	// first non-OK code.
	r = a.apply(proto.OpMulti, 5, &proto.MultiTxn{Txns: []proto.Txn{
		sub(proto.OpError, &proto.ErrorTxn{Err: proto.ErrOK}),
		sub(proto.OpError, &proto.ErrorTxn{Err: proto.ErrBadVersion}),
		sub(proto.OpError, &proto.ErrorTxn{Err: proto.ErrRuntimeInconsistency}),
	}})
	if r.Err != proto.ErrBadVersion || len(r.Multi) != 3 || r.Multi[0].Err != proto.ErrOK || r.Multi[2].Err != proto.ErrRuntimeInconsistency {
		t.Fatalf("failed multi = %+v", r)
	}
	// Upstream turns the non-error ops of a multi holding an error into
	// ErrorTxns (OK before the first error, RuntimeInconsistency after).
	r = a.apply(proto.OpMulti, 5, &proto.MultiTxn{Txns: []proto.Txn{
		sub(proto.OpCreate, &proto.CreateTxn{Path: "/m/x", ParentCVersion: -1}),
		sub(proto.OpError, &proto.ErrorTxn{Err: proto.ErrNoNode}),
		sub(proto.OpDelete, &proto.DeleteTxn{Path: "/m/2"}),
	}})
	if r.Err != proto.ErrNoNode || r.Multi[0].Op != proto.OpError || r.Multi[0].Err != proto.ErrOK || r.Multi[2].Err != proto.ErrRuntimeInconsistency {
		t.Fatalf("mixed failed multi = %+v", r)
	}
	if _, err := tr.Exists("/m/x", nil); !errors.Is(err, proto.ErrNoNode) {
		t.Fatal("op of a failed multi applied")
	}
	if _, err := tr.Exists("/m/2", nil); err != nil {
		t.Fatal("op of a failed multi applied")
	}
	// A sub-txn that does not decode stops the multi, as upstream's
	// IOException does.
	r = a.apply(proto.OpMulti, 5, &proto.MultiTxn{Txns: []proto.Txn{
		sub(proto.OpSetData, &proto.SetDataTxn{Path: "/m", Data: []byte("q"), Version: 2}),
		{Type: proto.OpSetACL, Data: nil},
	}})
	if len(r.Multi) != 1 {
		t.Fatalf("undecodable multi = %+v", r)
	}
}

func TestAllChildrenNumber(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	for _, p := range []string{"/a", "/a/b", "/a/b/c", "/ab", "/ab/x"} {
		a.mustCreate(p, nil, 0)
	}
	for path, want := range map[string]int32{"/": 8, "/a": 2, "/a/b": 1, "/a/b/c": 0, "/ab": 1, "/zookeeper": 2} {
		if got, err := tr.AllChildrenNumber(path); err != nil || got != want {
			t.Errorf("AllChildrenNumber(%s) = %d %v, want %d", path, got, err, want)
		}
	}
	if _, err := tr.AllChildrenNumber("/nope"); !errors.Is(err, proto.ErrNoNode) {
		t.Errorf("AllChildrenNumber(/nope) = %v, want NoNode (as Java)", err)
	}
}
