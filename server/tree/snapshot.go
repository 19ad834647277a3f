package tree

import (
	"fmt"

	"github.com/zkbench/zkbench/server/proto"
)

// NodeRecord is one node as a snapshot stores it (upstream serializes the
// path, then DataNode: data, ACL reference, StatPersisted). The root's Path
// is "", its children's "/a", as upstream.
type NodeRecord struct {
	Path   string
	Data   []byte // shared with the tree: do not modify
	ACLRef int64
	Stat   proto.StatPersisted
}

// Walk calls fn for every node, parents before children, root first, as
// upstream DataTree.serializeNode (children in sorted order). It holds the
// read lock only while copying one node, so Apply can run between nodes and
// the walk is fuzzy exactly as upstream's: a node is seen as it was when it
// was visited, and a node created or deleted during the walk may or may not
// be seen. Replaying the txns after the snapshot's starting zxid repairs
// that. Walk stops at fn's first error and returns it.
//
// A snapshot writer does what upstream does: note LastZxid, take ACLCache,
// then Walk, and store the ACL cache before the nodes.
func (t *Tree) Walk(fn func(NodeRecord) error) error {
	return t.walk("", fn)
}

func (t *Tree) walk(path string, fn func(NodeRecord) error) error {
	key := path
	if key == "" {
		key = "/"
	}
	t.mu.RLock()
	n := t.nodes[key]
	if n == nil {
		t.mu.RUnlock()
		return nil
	}
	rec := NodeRecord{Path: path, Data: n.data, ACLRef: n.acl, Stat: n.stat}
	children := n.sortedChildren()
	t.mu.RUnlock()
	if err := fn(rec); err != nil {
		return err
	}
	for _, c := range children {
		if err := t.walk(path+"/"+c, fn); err != nil {
			return err
		}
	}
	return nil
}

// Restore rebuilds a tree from a snapshot: the ACL cache, then the nodes in
// Walk order (each node's parent must come before it; the first must be the
// root, Path ""), and the zxid the snapshot covers. nodes returns ok=false at
// the end. It rebuilds the children sets, the ephemeral index, the container
// and TTL sets and the quota stats, counts ACL uses and drops unused cache
// entries, as upstream DataTree.deserialize. A node whose ACL reference is
// not in acls is kept (a fuzzy snapshot can hold one; replaying its create
// repairs it).
func Restore(acls map[int64][]proto.ACL, nodes func() (NodeRecord, bool, error), lastZxid int64) (*Tree, error) {
	t := newEmpty()
	t.acls.load(acls)
	t.lastZxid = lastZxid
	for i := 0; ; i++ {
		rec, ok, err := nodes()
		if err != nil {
			return nil, fmt.Errorf("tree: restore: node %d: %w", i, err)
		}
		if !ok {
			break
		}
		n := &node{data: rec.Data, acl: rec.ACLRef, stat: rec.Stat}
		if rec.Path == "" {
			if i != 0 {
				return nil, fmt.Errorf("tree: restore: root is node %d, want it first", i)
			}
			t.nodes["/"] = n
			t.acls.addUsage(n.acl)
			continue
		}
		if i == 0 {
			return nil, fmt.Errorf("tree: restore: first node is %q, want the root", rec.Path)
		}
		if err := ValidatePath(rec.Path, false); err != nil {
			return nil, fmt.Errorf("tree: restore: node %d: %w", i, err)
		}
		if _, dup := t.nodes[rec.Path]; dup {
			return nil, fmt.Errorf("tree: restore: node %q appears twice", rec.Path)
		}
		parentPath, name := parentOf(rec.Path)
		parent := t.nodes[parentPath]
		if parent == nil {
			return nil, fmt.Errorf("tree: restore: unable to find parent %q of %q", parentPath, rec.Path)
		}
		if parent.children == nil {
			parent.children = make(map[string]struct{}, 4)
		}
		parent.children[name] = struct{}{}
		t.nodes[rec.Path] = n
		t.acls.addUsage(n.acl)
		owner := n.stat.EphemeralOwner
		switch KindOf(owner) {
		case KindContainer:
			t.containers[rec.Path] = struct{}{}
		case KindTTL:
			t.ttls[rec.Path] = struct{}{}
		case KindEphemeral:
			s := t.ephemerals[owner]
			if s == nil {
				s = make(map[string]struct{})
				t.ephemerals[owner] = s
			}
			s[rec.Path] = struct{}{}
		}
	}
	if t.nodes["/"] == nil {
		return nil, fmt.Errorf("tree: restore: snapshot has no root")
	}
	// Upstream sizes the tree before recounting quotas, and never counts
	// quota stats updates in its cached size; so do we.
	for p, n := range t.nodes {
		t.dataSize += nodeSize(p, n.data)
		t.rehash(p, n)
	}
	t.setupQuota()
	t.acls.purgeUnused()
	return t, nil
}
