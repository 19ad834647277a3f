package peer

import (
	"fmt"
	"time"

	"github.com/zkbench/zkbench/server/reaper"
	"github.com/zkbench/zkbench/server/zab"
)

// notServingPoll is how often a leader that does not serve yet looks again
// whether its container reaper may start checking.
const notServingPoll = 10 * time.Millisecond

// reapTimer is the container reaper of a reign in which this server leads
// (upstream runs its ContainerManager on the leader only).
type reapTimer struct {
	r *reaper.Reaper
	t *time.Timer
}

// newReapTimer returns the reaper for a reign in role, or nil when this
// server does not lead.
func (p *Peer) newReapTimer(role zab.Role) (*reapTimer, error) {
	if role != zab.Leader {
		return nil, nil
	}
	r, err := p.replica.NewReaper(p.opts.Containers)
	if err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	return &reapTimer{r: r, t: time.NewTimer(time.Until(r.Next()))}, nil
}

// c is the timer's channel; nil (never ready) without a reaper.
func (rt *reapTimer) c() <-chan time.Time {
	if rt == nil {
		return nil
	}
	return rt.t.C
}

func (rt *reapTimer) stop() {
	if rt != nil {
		rt.t.Stop()
	}
}

// reap proposes the deletions due now, once the leader serves.
func (p *Peer) reap(rs *reignState, rt *reapTimer) {
	if !p.serving.Load() {
		rt.t.Reset(max(time.Until(rt.r.Next()), notServingPoll))
		return
	}
	for _, path := range rt.r.Due(p.replica, time.Now()) {
		p.propose(rs, p.replica.ReapRequest(path))
	}
	rt.t.Reset(time.Until(rt.r.Next()))
}
