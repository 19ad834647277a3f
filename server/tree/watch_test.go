package tree

import (
	"errors"
	"reflect"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

func expectEvents(t *testing.T, what string, r *recorder, want ...event) {
	t.Helper()
	got := r.take()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: events = %+v, want %+v", what, got, want)
	}
}

func TestOneShotDataWatch(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	a.mustCreate("/a", nil, 0)
	w := &recorder{}
	if _, _, err := tr.GetData("/a", w); err != nil {
		t.Fatal(err)
	}
	tr.GetData("/a", w) // registered twice: still one event
	a.setData("/a", []byte("1"))
	expectEvents(t, "setData", w, event{proto.EventNodeDataChanged, "/a", a.zxid})
	a.setData("/a", []byte("2"))
	expectEvents(t, "second setData", w)

	// Watch on a missing node via GetData is not set.
	if _, _, err := tr.GetData("/missing", w); !errors.Is(err, proto.ErrNoNode) {
		t.Fatal(err)
	}
	a.mustCreate("/missing", nil, 0)
	expectEvents(t, "create after failed getData", w)

	tr.GetData("/a", w)
	a.del("/a")
	expectEvents(t, "delete", w, event{proto.EventNodeDeleted, "/a", a.zxid})
	if tr.WatchCount() != 0 {
		t.Fatalf("WatchCount = %d after all fired", tr.WatchCount())
	}
}

func TestExistsWatch(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	w := &recorder{}
	if _, err := tr.Exists("/a", w); !errors.Is(err, proto.ErrNoNode) {
		t.Fatal(err)
	}
	a.mustCreate("/a", nil, 0)
	expectEvents(t, "create", w, event{proto.EventNodeCreated, "/a", a.zxid})
	tr.Exists("/a", w)
	a.setData("/a", nil)
	expectEvents(t, "setData", w, event{proto.EventNodeDataChanged, "/a", a.zxid})
	tr.Exists("/a", w)
	a.mustCreate("/a/b", nil, 0) // exist watch is a data watch: no child event
	expectEvents(t, "child create", w)
	a.del("/a/b")
	a.del("/a")
	expectEvents(t, "delete", w, event{proto.EventNodeDeleted, "/a", a.zxid})
}

func TestChildWatch(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	a.mustCreate("/p", nil, 0)
	w := &recorder{}
	tr.GetChildren("/p", w)
	a.mustCreate("/p/c", nil, 0)
	expectEvents(t, "child create", w, event{proto.EventNodeChildrenChanged, "/p", a.zxid})
	a.mustCreate("/p/d", nil, 0)
	expectEvents(t, "one-shot", w)
	tr.GetChildren("/p", w)
	a.setData("/p", []byte("x")) // child watch ignores data
	expectEvents(t, "setData", w)
	a.del("/p/d")
	expectEvents(t, "child delete", w, event{proto.EventNodeChildrenChanged, "/p", a.zxid})
	// Root's children.
	tr.GetChildren("/", w)
	a.mustCreate("/q", nil, 0)
	expectEvents(t, "root child", w, event{proto.EventNodeChildrenChanged, "/", a.zxid})
	// Delete of the watched node itself: NodeDeleted, once, even with a
	// data watch too; other watchers of the parent see ChildrenChanged.
	other := &recorder{}
	tr.GetChildren("/p/c", w)
	tr.GetData("/p/c", w)
	tr.GetChildren("/p", other)
	a.del("/p/c")
	expectEvents(t, "delete watched", w, event{proto.EventNodeDeleted, "/p/c", a.zxid})
	expectEvents(t, "delete parent watcher", other, event{proto.EventNodeChildrenChanged, "/p", a.zxid})
}

func TestManyWatchersEachNotified(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	a.mustCreate("/a", nil, 0)
	ws := []*recorder{{}, {}, {}}
	for _, w := range ws {
		tr.GetData("/a", w)
	}
	if tr.WatchCount() != 3 {
		t.Fatalf("WatchCount = %d", tr.WatchCount())
	}
	a.setData("/a", nil)
	for i, w := range ws {
		expectEvents(t, "watcher "+string(rune('0'+i)), w, event{proto.EventNodeDataChanged, "/a", a.zxid})
	}
}

func TestPersistentWatch(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	w := &recorder{}
	tr.AddWatch("/a", proto.AddWatchPersistent, w)
	if tr.WatchCount() != 2 {
		t.Fatalf("WatchCount = %d, want 2 (data and child registries)", tr.WatchCount())
	}
	a.mustCreate("/a", nil, 0)
	expectEvents(t, "create", w, event{proto.EventNodeCreated, "/a", a.zxid})
	a.setData("/a", nil)
	expectEvents(t, "setData", w, event{proto.EventNodeDataChanged, "/a", a.zxid})
	a.mustCreate("/a/b", nil, 0)
	expectEvents(t, "child create", w, event{proto.EventNodeChildrenChanged, "/a", a.zxid})
	a.setData("/a/b", nil)
	expectEvents(t, "grandchild data", w)
	a.del("/a/b")
	expectEvents(t, "child delete", w, event{proto.EventNodeChildrenChanged, "/a", a.zxid})
	a.del("/a")
	expectEvents(t, "delete", w, event{proto.EventNodeDeleted, "/a", a.zxid})
	a.mustCreate("/a", nil, 0)
	expectEvents(t, "re-create", w, event{proto.EventNodeCreated, "/a", a.zxid})

	// A one-shot watch on the same path: one event, one-shot consumed,
	// persistent kept.
	tr.GetData("/a", w)
	if err := tr.CheckWatches("/a", proto.WatcherData, w); err != nil {
		t.Fatal(err)
	}
	a.setData("/a", nil)
	expectEvents(t, "standard+persistent", w, event{proto.EventNodeDataChanged, "/a", a.zxid})
	if err := tr.CheckWatches("/a", proto.WatcherData, w); !errors.Is(err, proto.ErrNoWatcher) {
		t.Fatalf("one-shot survived: %v", err)
	}
	if err := tr.CheckWatches("/a", proto.WatcherPersistent, w); err != nil {
		t.Fatalf("persistent lost: %v", err)
	}
}

func TestRecursiveWatch(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	w := &recorder{}
	tr.AddWatch("/a", proto.AddWatchPersistentRecursive, w)
	if tr.WatchCount() != 2 {
		t.Fatalf("WatchCount = %d, want 2 (as Java 3.8.0 reports a recursive watch)", tr.WatchCount())
	}
	a.mustCreate("/a", nil, 0)
	expectEvents(t, "create self", w, event{proto.EventNodeCreated, "/a", a.zxid})
	a.mustCreate("/a/b", nil, 0)
	expectEvents(t, "create child (no NodeChildrenChanged)", w, event{proto.EventNodeCreated, "/a/b", a.zxid})
	a.mustCreate("/a/b/c", nil, 0)
	expectEvents(t, "create grandchild", w, event{proto.EventNodeCreated, "/a/b/c", a.zxid})
	a.setData("/a/b/c", []byte("x"))
	expectEvents(t, "grandchild data", w, event{proto.EventNodeDataChanged, "/a/b/c", a.zxid})
	a.mustCreate("/ab", nil, 0) // a sibling sharing the name prefix
	expectEvents(t, "sibling /ab", w)
	// A one-shot child watch on a descendant fires too, but the watcher
	// still gets one event per trigger.
	tr.GetData("/a/b/c", w)
	a.del("/a/b/c")
	expectEvents(t, "delete grandchild", w, event{proto.EventNodeDeleted, "/a/b/c", a.zxid})
	a.setData("/a", nil)
	expectEvents(t, "self data", w, event{proto.EventNodeDataChanged, "/a", a.zxid})

	// Recursive on the root sees everything.
	root := &recorder{}
	tr.AddWatch("/", proto.AddWatchPersistentRecursive, root)
	a.mustCreate("/z", nil, 0)
	expectEvents(t, "root recursive", root, event{proto.EventNodeCreated, "/z", a.zxid})
	expectEvents(t, "non-matching", w)
	if err := tr.CheckWatches("/", proto.WatcherRecursive, root); err != nil {
		t.Fatal(err)
	}
	if err := tr.CheckWatches("/", proto.WatcherPersistent, root); !errors.Is(err, proto.ErrNoWatcher) {
		t.Fatalf("recursive watch reported as persistent: %v", err)
	}
}

func TestSetWatches(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	a.mustCreate("/old", nil, 0)
	a.mustCreate("/par", nil, 0)
	a.mustCreate("/par/k", nil, 0)
	rel := a.zxid
	a.mustCreate("/new", nil, 0)
	a.mustCreate("/changed", nil, 0) // mzxid > rel
	a.mustCreate("/par/k2", nil, 0)  // pzxid of /par > rel

	w := &recorder{}
	tr.SetWatches(rel,
		[]string{"/old", "/gone", "/changed"}, // data
		[]string{"/new", "/absent"},           // exist
		[]string{"/old", "/par", "/gone2"},    // child
		[]string{"/pers"}, []string{"/rec"}, w)
	expectEvents(t, "immediate", w,
		event{proto.EventNodeDeleted, "/gone", -1},
		event{proto.EventNodeDataChanged, "/changed", -1},
		event{proto.EventNodeCreated, "/new", -1},
		event{proto.EventNodeChildrenChanged, "/par", -1},
		event{proto.EventNodeDeleted, "/gone2", -1},
	)
	for _, c := range []struct {
		path string
		typ  proto.WatcherType
		set  bool
	}{
		{"/old", proto.WatcherData, true},
		{"/absent", proto.WatcherData, true},
		{"/old", proto.WatcherChildren, true},
		{"/changed", proto.WatcherData, false},
		{"/new", proto.WatcherData, false},
		{"/par", proto.WatcherChildren, false},
		{"/pers", proto.WatcherPersistent, true},
		{"/rec", proto.WatcherRecursive, true},
	} {
		err := tr.CheckWatches(c.path, c.typ, w)
		if (err == nil) != c.set {
			t.Errorf("watch %s type %d set = %v, want %v", c.path, c.typ, err == nil, c.set)
		}
	}
	// The re-registered watches work.
	a.mustCreate("/absent", nil, 0)
	expectEvents(t, "exist fired", w, event{proto.EventNodeCreated, "/absent", a.zxid})
	a.mustCreate("/rec", nil, 0)
	expectEvents(t, "recursive fired", w, event{proto.EventNodeCreated, "/rec", a.zxid})
}

func TestRemoveAndCheckWatches(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	a.mustCreate("/a", nil, 0)
	w, other := &recorder{}, &recorder{}
	tr.GetData("/a", w)
	tr.GetChildren("/a", w)
	tr.GetData("/a", other)

	if err := tr.RemoveWatches("/a", proto.WatcherPersistent, w); !errors.Is(err, proto.ErrNoWatcher) {
		t.Fatalf("remove absent persistent: %v", err)
	}
	if err := tr.RemoveWatches("/a", proto.WatcherData, w); err != nil {
		t.Fatal(err)
	}
	if err := tr.CheckWatches("/a", proto.WatcherData, w); !errors.Is(err, proto.ErrNoWatcher) {
		t.Fatalf("data watch still there: %v", err)
	}
	if err := tr.CheckWatches("/a", proto.WatcherChildren, w); err != nil {
		t.Fatalf("child watch gone: %v", err)
	}
	if err := tr.CheckWatches("/a", proto.WatcherAny, w); err != nil {
		t.Fatalf("any: %v", err)
	}
	if err := tr.RemoveWatches("/a", proto.WatcherAny, w); err != nil {
		t.Fatal(err)
	}
	if err := tr.CheckWatches("/a", proto.WatcherAny, w); !errors.Is(err, proto.ErrNoWatcher) {
		t.Fatalf("any after remove: %v", err)
	}
	if err := tr.RemoveWatches("/a", proto.WatcherAny, w); !errors.Is(err, proto.ErrNoWatcher) {
		t.Fatalf("second remove: %v", err)
	}
	expectEvents(t, "server sends nothing on remove", w)
	a.setData("/a", nil)
	expectEvents(t, "removed watcher", w)
	expectEvents(t, "other watcher", other, event{proto.EventNodeDataChanged, "/a", a.zxid})

	tr.AddWatch("/a", proto.AddWatchPersistent, w)
	if err := tr.RemoveWatches("/a", proto.WatcherPersistent, w); err != nil {
		t.Fatal(err)
	}
	tr.AddWatch("/a", proto.AddWatchPersistentRecursive, w)
	if err := tr.RemoveWatches("/a", proto.WatcherRecursive, w); err != nil {
		t.Fatal(err)
	}
	if n := tr.WatchCount(); n != 0 {
		t.Fatalf("WatchCount = %d", n)
	}
	a.mustCreate("/a/x", nil, 0)
	expectEvents(t, "after removing persistent watches", w)
}

func TestRemoveWatcher(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	a.mustCreate("/a", nil, 0)
	w, keep := &recorder{}, &recorder{}
	tr.GetData("/a", w)
	tr.GetChildren("/a", w)
	tr.Exists("/nope", w)
	tr.AddWatch("/", proto.AddWatchPersistentRecursive, w)
	tr.AddWatch("/a", proto.AddWatchPersistent, w)
	tr.GetData("/a", keep)
	if got := tr.WatchesByWatcher()[w]; !reflect.DeepEqual(got, []string{"/", "/a", "/nope"}) {
		t.Fatalf("WatchesByWatcher = %v", got)
	}
	if got := tr.WatchesByPath()["/a"]; len(got) != 2 {
		t.Fatalf("WatchesByPath[/a] = %v", got)
	}
	if c, p, n := tr.WatchSummary(); c != 2 || p != 3 || n != 4 {
		t.Fatalf("WatchSummary = %d %d %d", c, p, n)
	}
	tr.RemoveWatcher(w)
	if n := tr.WatchCount(); n != 1 {
		t.Fatalf("WatchCount = %d after RemoveWatcher", n)
	}
	a.setData("/a", nil)
	a.mustCreate("/a/b", nil, 0)
	a.mustCreate("/nope", nil, 0)
	expectEvents(t, "removed", w)
	expectEvents(t, "kept", keep, event{proto.EventNodeDataChanged, "/a", a.zxid - 2})
}

// TestCheckedReads: GetDataIf and ExistsIf ask about the node's own ACL,
// refuse with ErrNoAuth without setting a watch, and otherwise behave as
// GetData and Exists.
func TestCheckedReads(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	a.mustCreate("/open", []byte("y"), 0)
	var asked [][]proto.ACL
	deny := func(acl []proto.ACL) bool { asked = append(asked, acl); return false }
	allow := func(acl []proto.ACL) bool { asked = append(asked, acl); return true }
	w := &recorder{}

	if _, _, err := tr.GetDataIf("/open", w, deny); !errors.Is(err, proto.ErrNoAuth) {
		t.Fatalf("GetDataIf denied = %v, want ErrNoAuth", err)
	}
	if _, err := tr.ExistsIf("/open", w, deny); !errors.Is(err, proto.ErrNoAuth) {
		t.Fatalf("ExistsIf denied = %v, want ErrNoAuth", err)
	}
	if len(asked) != 2 || len(asked[0]) != 1 || asked[0][0] != proto.OpenACLUnsafe[0] {
		t.Fatalf("allowed was asked about %v, want the node's open ACL twice", asked)
	}
	if n := tr.WatchCount(); n != 0 {
		t.Fatalf("a refused read set %d watches", n)
	}

	data, stat, err := tr.GetDataIf("/open", w, allow)
	wantData, wantStat, _ := tr.GetData("/open", nil)
	if err != nil || string(data) != string(wantData) || stat != wantStat {
		t.Fatalf("GetDataIf = %q %+v %v, want %q %+v", data, stat, err, wantData, wantStat)
	}
	a.setData("/open", []byte("z"))
	expectEvents(t, "setData after GetDataIf", w, event{proto.EventNodeDataChanged, "/open", a.zxid})

	// A missing node: no ACL to ask about; GetDataIf sets no watch,
	// ExistsIf does (as Exists).
	asked = nil
	if _, _, err := tr.GetDataIf("/missing", w, deny); !errors.Is(err, proto.ErrNoNode) {
		t.Fatalf("GetDataIf missing = %v", err)
	}
	if _, err := tr.ExistsIf("/missing", w, deny); !errors.Is(err, proto.ErrNoNode) {
		t.Fatalf("ExistsIf missing = %v", err)
	}
	if len(asked) != 0 {
		t.Fatalf("allowed asked about a missing node: %v", asked)
	}
	a.mustCreate("/missing", nil, 0)
	expectEvents(t, "create after ExistsIf", w, event{proto.EventNodeCreated, "/missing", a.zxid})
}

// reader is a recorder that may only read znodes its ids are granted READ
// on, as a client connection.
type reader struct {
	recorder
	ids []proto.ID
}

func (r *reader) MayRead(acl []proto.ACL) bool {
	return CheckACL(acl, proto.PermRead, r.ids, Providers{})
}

// Events reach only watchers that may READ the znode they are about
// (upstream's fix for CVE-2024-23944): a recursive or persistent watch on
// an open parent must not reveal the paths of children the watcher cannot
// read, nor their changes; the znode's own ACL decides, and for
// NodeChildrenChanged the parent's.
func TestEventsFilteredByReadACL(t *testing.T) {
	tr := New()
	a := newApplier(t, tr)
	admin := proto.ID{Scheme: "digest", ID: "admin:x"}
	secret := []proto.ACL{{Perms: proto.PermAll, ID: admin}}
	createACL := func(path string, acl []proto.ACL) {
		t.Helper()
		if r := a.apply(proto.OpCreate, 0, &proto.CreateTxn{Path: path, ACL: acl, ParentCVersion: a.parentCV(path)}); r.Err != proto.ErrOK {
			t.Fatalf("create %s: %v", path, r.Err)
		}
	}
	a.mustCreate("/open", nil, 0)
	anon := &reader{}
	owner := &reader{ids: []proto.ID{admin}}
	for _, w := range []*reader{anon, owner} {
		tr.AddWatch("/", proto.AddWatchPersistentRecursive, w)
		tr.AddWatch("/open", proto.AddWatchPersistent, w)
	}

	createACL("/open/secret", secret)
	created := event{proto.EventNodeCreated, "/open/secret", a.zxid}
	kids := event{proto.EventNodeChildrenChanged, "/open", a.zxid}
	expectEvents(t, "anonymous: create of an unreadable child", &anon.recorder, kids)
	expectEvents(t, "owner: create", &owner.recorder, created, kids)

	a.setData("/open/secret", []byte("x"))
	expectEvents(t, "anonymous: setData of an unreadable node", &anon.recorder)
	expectEvents(t, "owner: setData", &owner.recorder, event{proto.EventNodeDataChanged, "/open/secret", a.zxid})

	// A one-shot watch on the node itself is filtered the same way.
	tr.Exists("/open/secret", anon)
	a.del("/open/secret")
	kids = event{proto.EventNodeChildrenChanged, "/open", a.zxid}
	expectEvents(t, "anonymous: delete of an unreadable node", &anon.recorder, kids)
	expectEvents(t, "owner: delete", &owner.recorder, event{proto.EventNodeDeleted, "/open/secret", a.zxid}, kids)

	// Children of an unreadable parent: the child's ACL decides its
	// events, the parent's the NodeChildrenChanged.
	createACL("/vault", secret)
	owner.take()
	anon.take()
	tr.AddWatch("/vault", proto.AddWatchPersistent, anon)
	a.mustCreate("/vault/pub", nil, 0)
	expectEvents(t, "anonymous: open child of an unreadable parent", &anon.recorder, event{proto.EventNodeCreated, "/vault/pub", a.zxid})
}
