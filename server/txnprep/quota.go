package txnprep

import (
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// Quotas is where the prep stage reads quotas when it enforces them
// (zookeeper.enforceQuota): the committed tree's limits and usage, as
// upstream's ZooKeeperServer.checkQuota reads them from its DataTree and
// not from the outstanding changes. *tree.Tree is one.
type Quotas interface {
	QuotaFor(path string) (tree.Quota, bool)
}

// checkQuota refuses a create (countDiff 1) or setData (countDiff 0) that
// would take the quota governing path over one of its hard limits, as
// upstream 3.7+ does. Going over a soft limit is allowed (upstream only
// logs it). Nothing is checked unless Options.Quotas is set.
func (p *Preparer) checkQuota(path string, bytesDiff, countDiff int64) error {
	if p.opts.Quotas == nil {
		return nil
	}
	q, ok := p.opts.Quotas.QuotaFor(path)
	if !ok {
		return nil
	}
	if countDiff != 0 && overHardLimit(q.Count+countDiff, q.CountHardLimit) {
		return proto.ErrQuotaExceeded
	}
	if bytesDiff != 0 && overHardLimit(q.Bytes+bytesDiff, q.ByteHardLimit) {
		return proto.ErrQuotaExceeded
	}
	return nil
}

// overHardLimit reports whether used exceeds a hard limit that is set
// (-1 means none).
func overHardLimit(used, hardLimit int64) bool {
	return hardLimit > -1 && used > hardLimit
}
