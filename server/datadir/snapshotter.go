package datadir

import (
	"log/slog"
	"math/rand"
	"sync/atomic"
	"time"

	"github.com/zkbench/zkbench/server/metrics"
	"github.com/zkbench/zkbench/server/replica"
	"github.com/zkbench/zkbench/server/tree"
)

// Snapshotter takes snapshots every snapCount txns or so, randomised per
// server as upstream does (snapCount/2 + rand(snapCount/2)), in the
// background, one at a time, rolling the log first so old files can be
// purged.
type Snapshotter struct {
	dir      string
	log      *slog.Logger
	roll     func() error
	tree     func() *tree.Tree
	sessions func() map[int64]int32
	every    int64
	took     *metrics.Summary // snapshottime
	since    int64            // txns applied since the last snapshot began
	running  atomic.Bool
}

// NewSnapshotter returns the snapshot policy for a driver: roll rolls its
// transaction log, tree and sessions return the state to snapshot (called
// from Applied, on the driver's apply goroutine).
func (d *Dir) NewSnapshotter(roll func() error, tree func() *tree.Tree, sessions func() map[int64]int32) *Snapshotter {
	count := int64(max(d.snapCount, 2))
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	return &Snapshotter{
		dir: d.SnapDir, log: d.log, roll: roll, tree: tree, sessions: sessions,
		every: count/2 + rnd.Int63n(count/2),
		took:  d.metrics.SnapshotTime,
	}
}

// Applied is called after each txn is applied, from the one goroutine that
// applies them; it starts a snapshot of the state as of zxid when one is
// due and none is being written.
func (s *Snapshotter) Applied(zxid int64) {
	s.since++
	if s.since < s.every || !s.running.CompareAndSwap(false, true) {
		return
	}
	s.since = 0
	if err := s.roll(); err != nil {
		s.log.Error("could not roll the transaction log before a snapshot", "err", err)
	}
	sessions, t := s.sessions(), s.tree()
	go func() {
		defer s.running.Store(false)
		start := time.Now()
		path, err := replica.WriteSnapshot(s.dir, t, sessions, zxid)
		if err != nil {
			s.log.Error("snapshot failed", "zxid", hex(zxid), "err", err)
			return
		}
		took := time.Since(start)
		s.took.Observe(took)
		s.log.Info("snapshot written", "file", path, "zxid", hex(zxid), "took", took.Round(time.Millisecond))
	}()
}
