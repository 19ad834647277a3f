package replica

import (
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/reaper"
)

// NewReaper returns the container and TTL reaper (upstream's
// ContainerManager) with opts, and logs the options in force. Its
// candidates come from the replica (which is a reaper.Tree); the driver
// that runs it submits each deletion as ReapRequest.
func (r *Replica) NewReaper(opts reaper.Options) (*reaper.Reaper, error) {
	rp, err := reaper.New(opts, r.now())
	if err != nil {
		return nil, err
	}
	r.log.Info("container reaper", "options", opts.String())
	return rp, nil
}

// ExpiredContainersAndTTLsNeverUsed lists the reaper's candidates in the
// current tree (reaper.Tree).
func (r *Replica) ExpiredContainersAndTTLsNeverUsed(nowMs int64, maxPerCall int, maxNeverUsedMs int64) []string {
	return r.tree.Load().ExpiredContainersAndTTLsNeverUsed(nowMs, maxPerCall, maxNeverUsedMs)
}

// ReapRequest is the server-made deleteContainer of path, the reaper's
// deletion; nobody waits for its result (if the node got a child
// meanwhile, the prep stage makes it an error txn, as upstream).
func (r *Replica) ReapRequest(path string) *proto.Request {
	r.log.Info("attempting to delete candidate container", "path", path)
	return reaper.Request(path)
}
