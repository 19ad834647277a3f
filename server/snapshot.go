package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"sync/atomic"
	"time"

	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/replica"
	"github.com/zkbench/zkbench/server/snap"
	"github.com/zkbench/zkbench/server/tree"
)

// loadSnapshot returns the state of the newest valid snapshot, falling back
// to older ones when the newest is corrupt, or an empty tree when there is
// no snapshot at all.
func loadSnapshot(cfg *config.Config, log *slog.Logger) (*state, error) {
	st := &state{tree: tree.New(), sessions: map[int64]int32{}}
	f, err := snap.LoadNewestValid(snapDir(cfg), func(r *snap.Reader) error {
		t, err := replica.RestoreTree(r)
		if err != nil {
			return err
		}
		st.tree = t
		st.sessions = r.Header().Sessions
		if st.sessions == nil {
			st.sessions = map[int64]int32{}
		}
		st.snapZxid = r.Header().Zxid
		return nil
	})
	switch {
	case errors.Is(err, snap.ErrNoSnapshot):
		return st, nil
	case err != nil:
		return nil, fmt.Errorf("server: loading snapshots from %s: %w", snapDir(cfg), err)
	}
	log.Info("loaded snapshot", "file", f.Path, "zxid", hex(st.snapZxid))
	return st, nil
}

// snapshotter takes snapshots every snapCount txns or so, randomised per
// server as upstream does (snapCount/2 + rand(snapCount/2)), in the
// background, one at a time, rolling the log first so old files can be
// purged.
type snapshotter struct {
	dir      string
	log      *slog.Logger
	roll     func() error
	tree     func() *tree.Tree
	sessions func() map[int64]int32
	every    int64
	since    int64 // txns applied since the last snapshot began
	running  atomic.Bool
}

func newSnapshotter(cfg *config.Config, log *slog.Logger, roll func() error, t func() *tree.Tree, sessions func() map[int64]int32) *snapshotter {
	count := int64(max(cfg.SnapCount, 2))
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	return &snapshotter{
		dir: snapDir(cfg), log: log, roll: roll, tree: t, sessions: sessions,
		every: count/2 + rnd.Int63n(count/2),
	}
}

// applied is called after each txn; it starts a snapshot when due.
func (s *snapshotter) applied(zxid int64) {
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
		s.log.Info("snapshot written", "file", path, "zxid", hex(zxid), "took", time.Since(start).Round(time.Millisecond))
	}()
}

// autopurge removes old snapshots and logs every autopurge.purgeInterval
// hours, keeping autopurge.snapRetainCount snapshots (upstream
// DatadirCleanupManager). A purgeInterval of 0 disables it.
func autopurge(ctx context.Context, cfg *config.Config, log *slog.Logger) {
	if cfg.PurgeInterval <= 0 {
		return
	}
	retain := max(cfg.SnapRetainCount, 3)
	t := time.NewTicker(time.Duration(cfg.PurgeInterval) * time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			removed, err := snap.Purge(snapDir(cfg), logDir(cfg), retain)
			if err != nil {
				log.Error("autopurge failed", "err", err)
				continue
			}
			log.Info("autopurge", "removed", len(removed), "retained_snapshots", retain)
		}
	}
}
