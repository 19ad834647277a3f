package replica

import (
	"github.com/zkbench/zkbench/server/prep"
	"github.com/zkbench/zkbench/server/tree"
)

// store is the prep stage's view of the replica: its Store and, with
// zookeeper.enforceQuota, its Quotas. It reads the current tree, so the
// view follows a tree the replica replaced.
type store struct{ r *Replica }

// Lookup implements prep.Store.
func (s store) Lookup(path string) (prep.Node, bool) {
	info, ok := s.r.tree.Load().Lookup(path)
	if !ok {
		return prep.Node{}, false
	}
	return prep.Node{Stat: info.Stat, ACL: info.ACL}, true
}

// SessionEphemerals implements prep.Store.
func (s store) SessionEphemerals(id int64) []string {
	return s.r.tree.Load().SessionEphemerals(id)
}

// QuotaFor implements prep.Quotas.
func (s store) QuotaFor(path string) (tree.Quota, bool) {
	return s.r.tree.Load().QuotaFor(path)
}
