package tree

import (
	"slices"
	"strings"
	"sync"
	"unicode/utf16"

	"github.com/zkbench/zkbench/server/proto"
)

// Well-known paths that every tree has (upstream Quotas and ZooDefs).
const (
	ProcPath   = "/zookeeper"
	QuotaPath  = "/zookeeper/quota"
	ConfigPath = "/zookeeper/config"
)

// node is one znode (upstream DataNode).
type node struct {
	data     []byte
	acl      int64
	stat     proto.StatPersisted // cversion counts child creations
	children map[string]struct{} // nil when there are none
	digest   int64               // this node's share of the tree digest
}

func (n *node) numChildren() int32 { return int32(len(n.children)) }

// clientStat is the stat a client sees (upstream DataNode.copyStat): cversion
// is reported as creations*2-numChildren, i.e. creations plus deletions, and
// container/TTL owners are hidden.
func (n *node) clientStat() proto.Stat {
	nc := n.numChildren()
	return proto.Stat{
		Czxid:          n.stat.Czxid,
		Mzxid:          n.stat.Mzxid,
		Ctime:          n.stat.Ctime,
		Mtime:          n.stat.Mtime,
		Version:        n.stat.Version,
		Cversion:       n.stat.Cversion*2 - nc,
		Aversion:       n.stat.Aversion,
		EphemeralOwner: clientOwner(n.stat.EphemeralOwner),
		DataLength:     int32(len(n.data)),
		NumChildren:    nc,
		Pzxid:          n.stat.Pzxid,
	}
}

func (n *node) sortedChildren() []string {
	out := make([]string, 0, len(n.children))
	for c := range n.children {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Tree is the znode tree. See the package documentation for its concurrency
// contract.
type Tree struct {
	mu         sync.RWMutex
	nodes      map[string]*node // "/" is the root; upstream's "" alias is not stored
	ephemerals map[int64]map[string]struct{}
	containers map[string]struct{}
	ttls       map[string]struct{}
	acls       *aclCache
	dataW      *watchManager
	childW     *watchManager
	lastZxid   int64
	dataSize   int64
	digest     int64
	scratch    []byte // for digests; used only by the writer
	quotas     *quotaTrie
}

func newEmpty() *Tree {
	return &Tree{
		nodes:      make(map[string]*node),
		ephemerals: make(map[int64]map[string]struct{}),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
		acls:       newACLCache(),
		dataW:      newWatchManager(),
		childW:     newWatchManager(),
		quotas:     newQuotaTrie(),
	}
}

// New returns the tree of a fresh server, as upstream's DataTree
// constructor builds it: "/", "/zookeeper" and "/zookeeper/quota" with empty
// data, zero stats and the open ACL, and "/zookeeper/config" with empty data,
// the world-readable ACL (proto.ReadACLUnsafe, ACL cache id 1) and aversion
// -1.
func New() *Tree {
	t := newEmpty()
	root := &node{data: []byte{}, acl: OpenACLID}
	t.nodes["/"] = root
	proc := &node{data: []byte{}, acl: OpenACLID}
	quota := &node{data: []byte{}, acl: OpenACLID}
	config := &node{data: []byte{}, acl: t.acls.convert(proto.ReadACLUnsafe)}
	config.stat.Aversion = -1
	t.link("/", "zookeeper")
	t.nodes[ProcPath] = proc
	t.link(ProcPath, "quota")
	t.nodes[QuotaPath] = quota
	t.link(ProcPath, "config")
	t.nodes[ConfigPath] = config
	for p, n := range t.nodes {
		t.dataSize += nodeSize(p, n.data)
		t.rehash(p, n)
	}
	return t
}

// link records name as a child of parent.
func (t *Tree) link(parent, name string) {
	p := t.nodes[parent]
	if p.children == nil {
		p.children = make(map[string]struct{}, 4)
	}
	p.children[name] = struct{}{}
}

// nodeSize is upstream's getNodeSize: path length in UTF-16 code units plus
// data length.
func nodeSize(path string, data []byte) int64 {
	n := int64(len(path))
	for i := 0; i < len(path); i++ {
		if path[i] >= 0x80 {
			n = int64(len(utf16.Encode([]rune(path))))
			break
		}
	}
	return n + int64(len(data))
}

// GetData returns a node's data (shared: do not modify) and stat. A non-nil
// w sets a one-shot data watch, only if the node exists (upstream
// DataTree.getData).
func (t *Tree) GetData(path string, w Watcher) ([]byte, proto.Stat, error) {
	return t.GetDataIf(path, w, anyone)
}

// anyone permits every ACL: the unchecked reads.
func anyone([]proto.ACL) bool { return true }

// GetDataIf is GetData for a reader that needs a permission: under one
// read lock it looks the node up, asks allowed about the node's ACL and
// only then sets the watch and returns the data (shared: do not modify)
// and stat. A missing node gives proto.ErrNoNode, a refusal
// proto.ErrNoAuth (and no watch), as upstream's checkACL before getData.
func (t *Tree) GetDataIf(path string, w Watcher, allowed func([]proto.ACL) bool) ([]byte, proto.Stat, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.nodes[path]
	if n == nil {
		return nil, proto.Stat{}, proto.ErrNoNode
	}
	if !allowed(t.acls.get(n.acl)) {
		return nil, proto.Stat{}, proto.ErrNoAuth
	}
	if w != nil {
		t.dataW.add(path, w, modeStandard)
	}
	return n.data, n.clientStat(), nil
}

// ExistsIf is Exists for a reader that needs a permission on the node if
// it exists: a refusal gives proto.ErrNoAuth and sets no watch; otherwise
// it behaves as Exists, all under one read lock.
func (t *Tree) ExistsIf(path string, w Watcher, allowed func([]proto.ACL) bool) (proto.Stat, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.nodes[path]
	if n != nil && !allowed(t.acls.get(n.acl)) {
		return proto.Stat{}, proto.ErrNoAuth
	}
	if w != nil {
		t.dataW.add(path, w, modeStandard)
	}
	if n == nil {
		return proto.Stat{}, proto.ErrNoNode
	}
	return n.clientStat(), nil
}

// Exists returns a node's stat. A non-nil w sets a one-shot watch in the
// data registry whether or not the node exists (upstream DataTree.statNode):
// it fires NodeCreated if the node is created, NodeDataChanged or
// NodeDeleted if it exists.
func (t *Tree) Exists(path string, w Watcher) (proto.Stat, error) {
	return t.ExistsIf(path, w, anyone)
}

// GetChildren returns a node's child names, sorted, and its stat. A non-nil
// w sets a one-shot child watch, only if the node exists.
func (t *Tree) GetChildren(path string, w Watcher) ([]string, proto.Stat, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.nodes[path]
	if n == nil {
		return nil, proto.Stat{}, proto.ErrNoNode
	}
	if w != nil {
		t.childW.add(path, w, modeStandard)
	}
	return n.sortedChildren(), n.clientStat(), nil
}

// GetACL returns a copy of a node's ACL and its stat.
func (t *Tree) GetACL(path string) ([]proto.ACL, proto.Stat, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.nodes[path]
	if n == nil {
		return nil, proto.Stat{}, proto.ErrNoNode
	}
	return slices.Clone(t.acls.get(n.acl)), n.clientStat(), nil
}

// AllChildrenNumber counts the descendants of path, as upstream
// getAllChildrenNumber: proto.ErrNoNode if the node does not exist; for "/"
// every node but the root (the /zookeeper nodes included); otherwise every
// node whose path starts with path+"/".
func (t *Tree) AllChildrenNumber(path string) (int32, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.nodes[path] == nil {
		return 0, proto.ErrNoNode
	}
	if path == "/" {
		return int32(len(t.nodes) - 1), nil
	}
	prefix := path + "/"
	var n int32
	for p := range t.nodes {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n, nil
}

// Ephemerals lists, sorted, the session's ephemeral nodes whose path starts
// with prefix; an empty (or all-blank) prefix or "/" means all of them
// (upstream FinalRequestProcessor getEphemerals).
func (t *Tree) Ephemerals(sessionID int64, prefix string) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	trimmed := strings.TrimSpace(prefix)
	all := trimmed == "" || trimmed == "/"
	out := []string{}
	for p := range t.ephemerals[sessionID] {
		if all || strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// SessionEphemerals lists, sorted, the paths of the session's ephemeral
// nodes (for CloseSessionTxn.Paths2Delete).
func (t *Tree) SessionEphemerals(sessionID int64) []string {
	return t.Ephemerals(sessionID, "")
}

// NodeInfo is what the prep stage needs to know about a node.
type NodeInfo struct {
	// Stat is the node's stat as upstream's prep stage sees it (its
	// ChangeRecord): Cversion is the STORED cversion, which counts child
	// creations only, so sequence suffixes and CreateTxn.ParentCVersion
	// (= Cversion+1) come straight from it; EphemeralOwner is the raw
	// owner (ContainerOwner and TTLOwner encodings included). NumChildren
	// and DataLength are filled in. Clients must be shown ClientStat.
	Stat proto.Stat
	// ClientStat is the stat as clients see it (GetData, Exists, ...):
	// cversion reported as creations*2-numChildren (creations plus
	// deletions) and container/TTL owners shown as 0.
	ClientStat proto.Stat
	// Persisted is the stored stat, as snapshots hold it.
	Persisted proto.StatPersisted
	// ACL is the node's ACL (shared: do not modify).
	ACL []proto.ACL
	// Children is the number of children.
	Children int
	// Kind says whether the node is persistent, ephemeral, container or TTL.
	Kind Kind
	// TTL is the time to live of a TTL node, in ms.
	TTL int64
}

// ACL returns the ACL of the node at path, false if there is none. It is
// Lookup for the read path, which needs nothing else to check permission.
// The slice is shared: callers must not modify it. Like Lookup it accepts
// "" for the root.
func (t *Tree) ACL(path string) ([]proto.ACL, bool) {
	if path == "" {
		path = "/"
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.nodes[path]
	if n == nil {
		return nil, false
	}
	return t.acls.get(n.acl), true
}

// Lookup returns what the prep stage needs to know about a node. Like
// upstream's node map it also accepts "" for the root (what
// path[:lastIndex("/")] gives for a child of the root).
func (t *Tree) Lookup(path string) (NodeInfo, bool) {
	if path == "" {
		path = "/"
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.nodes[path]
	if n == nil {
		return NodeInfo{}, false
	}
	client := n.clientStat()
	prep := client
	prep.Cversion = n.stat.Cversion
	prep.EphemeralOwner = n.stat.EphemeralOwner
	info := NodeInfo{
		Stat:       prep,
		ClientStat: client,
		Persisted:  n.stat,
		ACL:        t.acls.get(n.acl),
		Children:   len(n.children),
		Kind:       KindOf(n.stat.EphemeralOwner),
	}
	if info.Kind == KindTTL {
		info.TTL = TTLOf(n.stat.EphemeralOwner)
	}
	return info, true
}

// LastZxid is the highest zxid applied.
func (t *Tree) LastZxid() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.lastZxid
}

// NodeCount is upstream's getNodeCount, the size of its node map, which
// holds the root twice (as "" and "/"): a fresh tree counts 5.
func (t *Tree) NodeCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.nodes) + 1
}

// ApproximateDataSize is the sum over nodes of path length plus data
// length, as upstream's approximateDataSize (upstream's "" alias of the root
// adds nothing).
func (t *Tree) ApproximateDataSize() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.dataSize
}

// EphemeralCount is the number of ephemeral nodes.
func (t *Tree) EphemeralCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := 0
	for _, s := range t.ephemerals {
		n += len(s)
	}
	return n
}

// EphemeralsBySession returns a copy of the ephemeral index (for the dump
// four-letter word), paths sorted.
func (t *Tree) EphemeralsBySession() map[int64][]string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make(map[int64][]string, len(t.ephemerals))
	for id, s := range t.ephemerals {
		l := make([]string, 0, len(s))
		for p := range s {
			l = append(l, p)
		}
		slices.Sort(l)
		out[id] = l
	}
	return out
}

// ACLCache returns a copy of the ACL cache (reference -> ACL list) for
// snapshots. Nodes with the open ACL refer to OpenACLID, which is not in
// the map, as upstream.
func (t *Tree) ACLCache() map[int64][]proto.ACL {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.acls.snapshot()
}
