package replica

import (
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/txnprep"
)

// store is the prep stage's view of the replica: its Store and, with
// zookeeper.enforceQuota, its Quotas. It reads the current tree, so the
// view follows a tree the replica replaced.
type store struct{ r *Replica }

// Lookup implements txnprep.Store.
func (s store) Lookup(path string) (txnprep.Node, bool) {
	info, ok := s.r.tree.Load().Lookup(path)
	if !ok {
		return txnprep.Node{}, false
	}
	return txnprep.Node{Stat: info.Stat, ACL: info.ACL}, true
}

// SessionEphemerals implements txnprep.Store.
func (s store) SessionEphemerals(id int64) []string {
	return s.r.tree.Load().SessionEphemerals(id)
}

// QuotaFor implements txnprep.Quotas.
func (s store) QuotaFor(path string) (tree.Quota, bool) {
	return s.r.tree.Load().QuotaFor(path)
}
