package tree

import (
	"maps"
	"slices"
	"sync"

	"github.com/zkbench/zkbench/server/proto"
)

// Watcher receives watch events. Event is called while the tree holds its
// lock: it must only enqueue, never block or call back into the tree. zxid
// is the zxid of the txn that caused the event, or -1 for the events
// SetWatches generates (upstream WatchedEvent's NO_ZXID).
//
// MayRead reports whether the watcher may READ a znode with the given ACL.
// A change fires a watcher's watch only if it may read the znode the event
// names (for NodeChildrenChanged, the parent), as upstream checks since
// CVE-2024-23944; otherwise the watch is consumed and nothing is sent. It
// is called under the tree's lock too.
type Watcher interface {
	Event(ev proto.WatcherEvent, zxid int64)
	MayRead(acl []proto.ACL) bool
}

// watchMode is a set of modes one watcher holds on one path, as upstream
// WatchStats: a watcher may hold a one-shot and a persistent watch at once.
type watchMode uint8

const (
	modeStandard   watchMode = 1 << iota // one-shot (getData/exists/getChildren)
	modePersistent                       // addWatch PERSISTENT
	modeRecursive                        // addWatch PERSISTENT_RECURSIVE
)

// watchManager is one of upstream's two WatchManagers (data or child).
type watchManager struct {
	mu        sync.Mutex
	byPath    map[string]map[Watcher]watchMode
	byWatcher map[Watcher]map[string]struct{}
	recursive int // number of (watcher, path) pairs holding modeRecursive
}

func newWatchManager() *watchManager {
	return &watchManager{
		byPath:    make(map[string]map[Watcher]watchMode),
		byWatcher: make(map[Watcher]map[string]struct{}),
	}
}

func (m *watchManager) add(path string, w Watcher, mode watchMode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ws := m.byPath[path]
	if ws == nil {
		ws = make(map[Watcher]watchMode, 1)
		m.byPath[path] = ws
	}
	old := ws[w]
	ws[w] = old | mode
	if old&modeRecursive == 0 && mode&modeRecursive != 0 {
		m.recursive++
	}
	ps := m.byWatcher[w]
	if ps == nil {
		ps = make(map[string]struct{})
		m.byWatcher[w] = ps
	}
	ps[path] = struct{}{}
}

// unlinkLocked forgets that w watches path.
func (m *watchManager) unlinkLocked(path string, w Watcher, ws map[Watcher]watchMode) {
	delete(ws, w)
	if len(ws) == 0 {
		delete(m.byPath, path)
	}
	if ps := m.byWatcher[w]; ps != nil {
		delete(ps, path)
		if len(ps) == 0 {
			delete(m.byWatcher, w)
		}
	}
}

// remove drops the given modes (all if mode is 0) of w's watch on path and
// reports whether anything was removed.
func (m *watchManager) remove(path string, w Watcher, mode watchMode) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	ws := m.byPath[path]
	old, ok := ws[w]
	if !ok {
		return false
	}
	if mode == 0 {
		mode = old
	}
	left := old &^ mode
	if left == old {
		return false
	}
	if old&modeRecursive != 0 && left&modeRecursive == 0 {
		m.recursive--
	}
	if left == 0 {
		m.unlinkLocked(path, w, ws)
	} else {
		ws[w] = left
	}
	return true
}

// contains reports whether w holds a watch on path with any of the modes
// (any watch at all if mode is 0).
func (m *watchManager) contains(path string, w Watcher, mode watchMode) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	got, ok := m.byPath[path][w]
	return ok && (mode == 0 || got&mode != 0)
}

// removeWatcher drops every watch w holds.
func (m *watchManager) removeWatcher(w Watcher) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for path := range m.byWatcher[w] {
		ws := m.byPath[path]
		if ws[w]&modeRecursive != 0 {
			m.recursive--
		}
		delete(ws, w)
		if len(ws) == 0 {
			delete(m.byPath, path)
		}
	}
	delete(m.byWatcher, w)
}

// trigger fires an event of type typ for path, as upstream
// WatchManager.triggerWatch: every watcher on path itself is notified (its
// one-shot watch consumed), and, walking up the ancestors, every watcher
// holding a recursive watch there. Each watcher is notified at most once;
// watchers in suppress, and those that may not read a znode with acl (the
// ACL of the node at path), are not notified (but still lose their
// one-shot watch). It returns the set of watchers that matched.
func (m *watchManager) trigger(path string, typ proto.EventType, zxid int64, acl []proto.ACL, suppress map[Watcher]struct{}) map[Watcher]struct{} {
	m.mu.Lock()
	var hit map[Watcher]struct{}
	if ws := m.byPath[path]; ws != nil {
		hit = make(map[Watcher]struct{}, len(ws))
		for w, mode := range ws {
			hit[w] = struct{}{}
			if mode&modeStandard != 0 {
				if left := mode &^ modeStandard; left == 0 {
					m.unlinkLocked(path, w, ws)
				} else {
					ws[w] = left
				}
			}
		}
	}
	if m.recursive > 0 {
		for p := path; p != "/"; {
			p, _ = parentOf(p)
			for w, mode := range m.byPath[p] {
				if mode&modeRecursive != 0 {
					if hit == nil {
						hit = make(map[Watcher]struct{})
					}
					hit[w] = struct{}{}
				}
			}
		}
	}
	m.mu.Unlock()
	if len(hit) == 0 {
		return nil
	}
	ev := proto.WatcherEvent{Type: typ, State: proto.StateSyncConnected, Path: path}
	for w := range hit {
		if _, skip := suppress[w]; !skip && w.MayRead(acl) {
			w.Event(ev, zxid)
		}
	}
	return hit
}

// size counts (path, watcher) pairs, as upstream WatchManager.size.
func (m *watchManager) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, ws := range m.byPath {
		n += len(ws)
	}
	return n
}

func (m *watchManager) pathsByWatcher() map[Watcher][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[Watcher][]string, len(m.byWatcher))
	for w, ps := range m.byWatcher {
		out[w] = slices.Sorted(maps.Keys(ps))
	}
	return out
}

func (m *watchManager) watchersByPath() map[string][]Watcher {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][]Watcher, len(m.byPath))
	for p, ws := range m.byPath {
		out[p] = slices.Collect(maps.Keys(ws))
	}
	return out
}

// AddWatch adds a persistent or persistent-recursive watch on path, whether
// or not the node exists (upstream DataTree.addWatch). A persistent watch
// gets NodeCreated, NodeDeleted, NodeDataChanged and NodeChildrenChanged for
// path; a recursive one gets NodeCreated, NodeDeleted and NodeDataChanged for
// path and every descendant, and never NodeChildrenChanged.
func (t *Tree) AddWatch(path string, mode proto.AddWatchMode, w Watcher) {
	if mode == proto.AddWatchPersistentRecursive {
		t.dataW.add(path, w, modeRecursive)
		return
	}
	t.dataW.add(path, w, modePersistent)
	t.childW.add(path, w, modePersistent)
}

// SetWatches re-registers a reconnecting client's watches, as upstream
// DataTree.setWatches: a data watch on a node that is gone fires NodeDeleted
// and one on a node changed after relZxid fires NodeDataChanged; an exist
// watch on a node that now exists fires NodeCreated; a child watch fires
// NodeDeleted or (pzxid > relZxid) NodeChildrenChanged; otherwise the watch
// is set. Persistent and recursive watches are always set. Events fired here
// carry zxid -1.
func (t *Tree) SetWatches(relZxid int64, data, exist, child, persistent, recursive []string, w Watcher) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	fire := func(typ proto.EventType, path string) {
		w.Event(proto.WatcherEvent{Type: typ, State: proto.StateSyncConnected, Path: path}, -1)
	}
	for _, p := range data {
		switch n := t.nodes[p]; {
		case n == nil:
			fire(proto.EventNodeDeleted, p)
		case n.stat.Mzxid > relZxid:
			fire(proto.EventNodeDataChanged, p)
		default:
			t.dataW.add(p, w, modeStandard)
		}
	}
	for _, p := range exist {
		if t.nodes[p] != nil {
			fire(proto.EventNodeCreated, p)
		} else {
			t.dataW.add(p, w, modeStandard)
		}
	}
	for _, p := range child {
		switch n := t.nodes[p]; {
		case n == nil:
			fire(proto.EventNodeDeleted, p)
		case n.stat.Pzxid > relZxid:
			fire(proto.EventNodeChildrenChanged, p)
		default:
			t.childW.add(p, w, modeStandard)
		}
	}
	for _, p := range persistent {
		t.childW.add(p, w, modePersistent)
		t.dataW.add(p, w, modePersistent)
	}
	for _, p := range recursive {
		t.dataW.add(p, w, modeRecursive)
	}
}

// RemoveWatches removes w's watches of type typ on path, as upstream
// DataTree.removeWatch, and returns proto.ErrNoWatcher if there was none.
// WatcherData and WatcherChildren remove only one-shot watches,
// WatcherPersistent and WatcherRecursive the persistent kinds, WatcherAny
// everything. The server sends no event for this: upstream clients generate
// DataWatchRemoved/ChildWatchRemoved/PersistentWatchRemoved locally when the
// reply succeeds.
func (t *Tree) RemoveWatches(path string, typ proto.WatcherType, w Watcher) error {
	removed := false
	switch typ {
	case proto.WatcherChildren:
		removed = t.childW.remove(path, w, modeStandard)
	case proto.WatcherData:
		removed = t.dataW.remove(path, w, modeStandard)
	case proto.WatcherPersistent:
		c := t.childW.remove(path, w, modePersistent)
		d := t.dataW.remove(path, w, modePersistent)
		removed = c || d
	case proto.WatcherRecursive:
		removed = t.dataW.remove(path, w, modeRecursive)
	case proto.WatcherAny:
		c := t.childW.remove(path, w, 0)
		d := t.dataW.remove(path, w, 0)
		removed = c || d
	}
	if !removed {
		return proto.ErrNoWatcher
	}
	return nil
}

// CheckWatches reports (nil) whether w holds a watch of type typ on path, or
// returns proto.ErrNoWatcher (upstream DataTree.containsWatcher).
func (t *Tree) CheckWatches(path string, typ proto.WatcherType, w Watcher) error {
	ok := false
	switch typ {
	case proto.WatcherChildren:
		ok = t.childW.contains(path, w, modeStandard)
	case proto.WatcherData:
		ok = t.dataW.contains(path, w, modeStandard)
	case proto.WatcherPersistent:
		ok = t.dataW.contains(path, w, modePersistent)
	case proto.WatcherRecursive:
		ok = t.dataW.contains(path, w, modeRecursive)
	case proto.WatcherAny:
		ok = t.childW.contains(path, w, 0) || t.dataW.contains(path, w, 0)
	}
	if !ok {
		return proto.ErrNoWatcher
	}
	return nil
}

// RemoveWatcher drops every watch w holds (its connection closed).
func (t *Tree) RemoveWatcher(w Watcher) {
	t.dataW.removeWatcher(w)
	t.childW.removeWatcher(w)
}

// WatchCount is upstream 3.8.0's zk_watch_count: (path, watcher)
// registrations in the data and child registries together. A persistent
// watch counts twice (it lives in both); so does a recursive one, because
// 3.8.0 registers it in both too (later versions keep it only in the data
// registry, which is how it is kept here).
func (t *Tree) WatchCount() int {
	t.dataW.mu.Lock()
	rec := t.dataW.recursive
	t.dataW.mu.Unlock()
	return t.dataW.size() + t.childW.size() + rec
}

// WatchesByPath lists the watchers of each path in the data-watch registry
// (data, exist, persistent and recursive watches), which is what upstream's
// wchp reports; one-shot child watches are not included, as upstream.
func (t *Tree) WatchesByPath() map[string][]Watcher { return t.dataW.watchersByPath() }

// WatchesByWatcher lists the paths each watcher watches in the data-watch
// registry, sorted; this is upstream's wchc (child watches excluded, as
// upstream).
func (t *Tree) WatchesByWatcher() map[Watcher][]string { return t.dataW.pathsByWatcher() }

// WatchSummary is upstream's wchs over the data-watch registry: the number
// of watching connections, of watched paths, and of watches.
func (t *Tree) WatchSummary() (watchers, paths, total int) {
	m := t.dataW
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ps := range m.byWatcher {
		total += len(ps)
	}
	return len(m.byWatcher), len(m.byPath), total
}
