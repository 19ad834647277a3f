package tree

import (
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// workload applies seeded random txns to a tree through the model-driven
// generator and remembers them for replay.
type workload struct {
	g   *gen
	m   model
	tr  *Tree
	log []logged
}

type logged struct {
	hdr *proto.TxnHeader
	txn proto.Record
}

func newWorkload(seed int64, tr *Tree) *workload {
	return &workload{g: &gen{r: rand.New(rand.NewSource(seed)), zxid: 0x500000000}, m: newModel(), tr: tr}
}

func (w *workload) step() {
	w.g.zxid++
	time := 1_700_000_000_000 + w.g.zxid
	session := 1 + w.g.r.Int63n(3)
	var o op
	if w.g.r.Intn(100) < 15 {
		o = w.g.prepMulti(w.m, w.g.zxid, time, session)
	} else {
		o = w.g.prepOne(w.m, w.g.zxid, time, session, false)
	}
	hdr := &proto.TxnHeader{ClientID: session, Zxid: w.g.zxid, Time: time, Type: o.typ}
	w.tr.Apply(hdr, o.txn)
	w.log = append(w.log, logged{hdr, o.txn})
}

func collect(t *testing.T, tr *Tree) []NodeRecord {
	t.Helper()
	var out []NodeRecord
	if err := tr.Walk(func(r NodeRecord) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func iterate(recs []NodeRecord) func() (NodeRecord, bool, error) {
	i := 0
	return func() (NodeRecord, bool, error) {
		if i == len(recs) {
			return NodeRecord{}, false, nil
		}
		i++
		return recs[i-1], true, nil
	}
}

// sameTree compares everything a client or the server can observe.
func sameTree(t *testing.T, got, want *Tree) {
	t.Helper()
	sameTreeSize(t, got, want, 0)
}

// sameTreeSize is sameTree allowing ApproximateDataSize to differ by
// sizeDiff.
func sameTreeSize(t *testing.T, got, want *Tree, sizeDiff int64) {
	t.Helper()
	g, w := collect(t, got), collect(t, want)
	if len(g) != len(w) {
		t.Fatalf("node count %d, want %d", len(g), len(w))
	}
	for i := range w {
		gr, wr := g[i], w[i]
		if gr.Path != wr.Path || !slices.Equal(gr.Data, wr.Data) || gr.Stat != wr.Stat {
			t.Fatalf("node %d:\n got %+v\nwant %+v", i, gr, wr)
		}
		p := wr.Path
		if p == "" {
			p = "/"
		}
		ga, gs, _ := got.GetACL(p)
		wa, ws, _ := want.GetACL(p)
		if !reflect.DeepEqual(ga, wa) || gs != ws {
			t.Fatalf("%s: acl/stat %v %+v, want %v %+v", p, ga, gs, wa, ws)
		}
	}
	if !reflect.DeepEqual(got.EphemeralsBySession(), want.EphemeralsBySession()) {
		t.Fatalf("ephemerals %v, want %v", got.EphemeralsBySession(), want.EphemeralsBySession())
	}
	if !slices.Equal(got.Containers(), want.Containers()) || !slices.Equal(got.TTLNodes(), want.TTLNodes()) {
		t.Fatalf("containers/ttls differ")
	}
	if got.NodeCount() != want.NodeCount() || got.ApproximateDataSize()-sizeDiff != want.ApproximateDataSize() {
		t.Fatalf("counts %d/%d, want %d/%d", got.NodeCount(), got.ApproximateDataSize(), want.NodeCount(), want.ApproximateDataSize())
	}
	if got.Digest() != want.Digest() {
		t.Fatalf("Digest %x, want %x", got.Digest(), want.Digest())
	}
	if got.LastZxid() != want.LastZxid() {
		t.Fatalf("LastZxid %x, want %x", got.LastZxid(), want.LastZxid())
	}
}

func TestWalkOrder(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	for _, p := range []string{"/b", "/a", "/a/y", "/a/x", "/a/x/1"} {
		a.mustCreate(p, []byte(p), 0)
	}
	var paths []string
	for _, r := range collect(t, tr) {
		paths = append(paths, r.Path)
	}
	want := []string{"", "/a", "/a/x", "/a/x/1", "/a/y", "/b", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"}
	if !slices.Equal(paths, want) {
		t.Fatalf("walk order %v, want %v", paths, want)
	}
	stop := errors.New("stop")
	n := 0
	err := tr.Walk(func(NodeRecord) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("Walk did not stop at the first error: %v after %d", err, n)
	}
}

func TestWalkRestoreRoundTrip(t *testing.T) {
	tr := New()
	w := newWorkload(7, tr)
	for i := 0; i < 800; i++ {
		w.step()
	}
	// A quota, so that the restored stats node is recounted.
	a := newApplier(t, tr)
	a.zxid = w.g.zxid
	a.mustCreate("/zookeeper/quota/a", nil, 0)
	a.mustCreate("/zookeeper/quota/a/zookeeper_limits", []byte("count=100,bytes=-1"), 0)
	a.mustCreate("/zookeeper/quota/a/zookeeper_stats", nil, 0)

	got, err := Restore(tr.ACLCache(), iterate(collect(t, tr)), tr.LastZxid())
	if err != nil {
		t.Fatal(err)
	}
	// Upstream's cached data size never counts quota stats updates, but a
	// restored tree counts the stats data it loads: that much may differ.
	stats, _, _ := tr.GetData("/zookeeper/quota/a/zookeeper_stats", nil)
	if len(stats) == 0 {
		t.Fatal("quota stats node empty")
	}
	sameTreeSize(t, got, tr, int64(len(stats)))
	if !reflect.DeepEqual(got.ACLCache(), tr.ACLCache()) {
		t.Fatalf("ACL cache %v, want %v", got.ACLCache(), tr.ACLCache())
	}
	// Both trees go on identically.
	for i := 0; i < 200; i++ {
		w.step()
		l := w.log[len(w.log)-1]
		got.Apply(l.hdr, l.txn)
	}
	sameTreeSize(t, got, tr, int64(len(stats)))
}

// TestFuzzySnapshotReplay takes a snapshot while txns are applied between
// the nodes it visits, as upstream's fuzzy snapshots are taken, restores it,
// replays every txn after the zxid the snapshot started at, and requires
// the result to equal the live tree.
func TestFuzzySnapshotReplay(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			tr := New()
			w := newWorkload(seed, tr)
			for i := 0; i < 300; i++ {
				w.step()
			}
			start := tr.LastZxid()
			replayFrom := len(w.log)
			acls := tr.ACLCache()
			var recs []NodeRecord
			err := tr.Walk(func(r NodeRecord) error {
				recs = append(recs, r)
				for i := w.g.r.Intn(4); i > 0; i-- {
					w.step()
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 20; i++ {
				w.step()
			}
			got, err := Restore(acls, iterate(recs), start)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range w.log[replayFrom:] {
				got.Apply(l.hdr, l.txn)
			}
			sameTree(t, got, tr)
		})
	}
}

func TestRestoreErrors(t *testing.T) {
	root := NodeRecord{Path: "", ACLRef: OpenACLID}
	boom := errors.New("disk on fire")
	for _, c := range []struct {
		name string
		recs []NodeRecord
		err  error
	}{
		{"empty", nil, nil},
		{"root not first", []NodeRecord{{Path: "/a", ACLRef: -1}, root}, nil},
		{"orphan", []NodeRecord{root, {Path: "/a/b", ACLRef: -1}}, nil},
		{"duplicate", []NodeRecord{root, {Path: "/a", ACLRef: -1}, {Path: "/a", ACLRef: -1}}, nil},
		{"bad path", []NodeRecord{root, {Path: "/a//b", ACLRef: -1}}, proto.ErrBadArguments},
		{"second root", []NodeRecord{root, root}, nil},
	} {
		_, err := Restore(nil, iterate(c.recs), 0)
		if err == nil {
			t.Errorf("%s: Restore succeeded", c.name)
		} else if c.err != nil && !errors.Is(err, c.err) {
			t.Errorf("%s: %v does not wrap %v", c.name, err, c.err)
		}
	}
	n := 0
	_, err := Restore(nil, func() (NodeRecord, bool, error) {
		n++
		if n == 2 {
			return NodeRecord{}, false, boom
		}
		return root, true, nil
	}, 0)
	if !errors.Is(err, boom) {
		t.Errorf("iterator error: %v", err)
	}
	// Unused ACLs are purged; an unknown reference is tolerated.
	tr, err := Restore(map[int64][]proto.ACL{3: proto.ReadACLUnsafe, 4: proto.CreatorAllACL},
		iterate([]NodeRecord{root, {Path: "/a", ACLRef: 3}, {Path: "/b", ACLRef: 9}}), 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.ACLCache(); !reflect.DeepEqual(got, map[int64][]proto.ACL{3: proto.ReadACLUnsafe}) {
		t.Fatalf("ACL cache after restore = %v", got)
	}
	// New ACLs continue after the highest id seen.
	a := newApplier(t, tr)
	a.apply(proto.OpCreate, 0, &proto.CreateTxn{Path: "/c", ACL: proto.CreatorAllACL, ParentCVersion: -1})
	if got := tr.ACLCache(); got[10] != nil || got[5] == nil {
		t.Fatalf("ACL ids after restore: %v", got)
	}
}
