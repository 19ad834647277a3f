package replica

import (
	"github.com/zkbench/zkbench/server/snap"
	"github.com/zkbench/zkbench/server/tree"
)

// RestoreTree rebuilds a tree from an open snapshot, at the snapshot's
// zxid. It is the one adapter from package snap's node records to the
// tree's.
func RestoreTree(r *snap.Reader) (*tree.Tree, error) {
	h := r.Header()
	return tree.Restore(h.ACLs, func() (tree.NodeRecord, bool, error) {
		n, ok, err := r.Next()
		if err != nil || !ok {
			return tree.NodeRecord{}, ok, err
		}
		return tree.NodeRecord{Path: n.Path, Data: n.Data, ACLRef: n.ACLRef, Stat: n.Stat}, true, nil
	}, h.Zxid)
}

// WriteSnapshot writes a (fuzzy) snapshot of t at zxid, with sessions, to
// dir and returns its path. Apply may run meanwhile: tree.Walk locks per
// node, and replaying the log from zxid repairs what the walk saw
// half-done, as upstream's fuzzy snapshots rely on.
func WriteSnapshot(dir string, t *tree.Tree, sessions map[int64]int32, zxid int64) (string, error) {
	h := snap.Header{Zxid: zxid, Sessions: sessions, ACLs: t.ACLCache()}
	return snap.Write(dir, h, func(emit func(snap.Node) error) error {
		return t.Walk(func(n tree.NodeRecord) error {
			return emit(snap.Node{Path: n.Path, Data: n.Data, ACLRef: n.ACLRef, Stat: n.Stat})
		})
	})
}
