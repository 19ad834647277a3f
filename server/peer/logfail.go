package peer

import (
	"context"
	"fmt"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

// Log failures. A member whose transaction log fails (a full disk, an I/O
// error; wal poisons the log on any failed append, write or fsync) must
// never acknowledge what it did not persist: drive returns the failure
// before it sends anything that vouches for the failed entries, and the
// reign ends, so the others elect without it, as upstream's leader shuts
// down when its sync thread fails. The member then recovers its log to
// what it acknowledged (storage.recoverLog) and sits out of elections for
// a while before it looks for a leader again: with its log still on a
// full disk it would otherwise win elections only to fail again, and the
// ensemble would stall. The pause doubles with each failure in a row.
const (
	minLogPause = 2 * time.Second
	maxLogPause = 16 * time.Second
)

// logFailures is the peer loop's record of its log's recent failures.
type logFailures struct {
	pause time.Duration // the last pause
	last  time.Time     // when the log last failed
}

// next returns the pause after a failure now: twice the last, or
// minLogPause after a long enough healthy stretch.
func (lf *logFailures) next(now time.Time) time.Duration {
	if now.Sub(lf.last) > 2*maxLogPause {
		lf.pause = 0
	}
	lf.pause = min(max(2*lf.pause, minLogPause), maxLogPause)
	lf.last = now
	return lf.pause
}

// afterLogFailure runs after a reign: if the log failed, it recovers the
// log and sits out for a while. An error means the log cannot be
// recovered and the member must stop.
func (p *Peer) afterLogFailure(ctx context.Context, lf *logFailures) error {
	failure := p.store.log.Err()
	if failure == nil {
		return nil
	}
	pause := lf.next(time.Now())
	p.log.Error("the transaction log failed: left the ensemble role without acknowledging what it could not persist; "+
		"recovering the log and sitting out of elections before rejoining",
		"err", failure, "pause", pause, "last_durable_zxid", fmt.Sprintf("0x%x", p.store.LastZxid()))
	if err := p.store.recoverLog(p.log); err != nil {
		return fmt.Errorf("peer: the transaction log failed (%v) and cannot be recovered: %w", failure, err)
	}
	p.sitOut(ctx, pause)
	return nil
}

// sitOut takes no part in the ensemble for d: election notifications are
// dropped, learners that take this member for their leader are turned
// away, and client requests fail.
func (p *Peer) sitOut(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		case _, ok := <-p.etr.Recv():
			if !ok {
				return
			}
		case qc := <-p.accepted:
			qc.Close()
		case r := <-p.reqCh:
			p.failRequest(r, proto.ErrConnectionLoss)
		}
	}
}
