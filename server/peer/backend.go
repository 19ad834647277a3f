package peer

import (
	"fmt"

	"github.com/zkbench/zkbench/server/clientconn"
	"github.com/zkbench/zkbench/server/election"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// Tree is the local replica (clientconn.Backend).
func (p *Peer) Tree() *tree.Tree { return p.replica.Tree() }

// LastZxid is the last applied zxid (clientconn.Backend).
func (p *Peer) LastZxid() int64 { return p.replica.LastApplied() }

// CreateSession makes a session through the leader (clientconn.Backend). The id
// carries this server's id in its top byte, so ids never collide across
// servers.
func (p *Peer) CreateSession(timeoutMs int32, readOnly bool, done func(int64, []byte, error)) {
	id := p.replica.NewSessionID()
	if p.readOnly.Load() {
		// A read-only session is local: no leader to agree it with.
		p.sessMu.Lock()
		p.local[id] = timeoutMs
		p.sessMu.Unlock()
		done(id, p.replica.SessionPassword(id), nil)
		return
	}
	p.submit(&proto.Request{SessionID: id, Op: proto.OpCreateSession, TimeOut: timeoutMs}, func(r clientconn.WriteResult) {
		if r.Err != proto.ErrOK {
			done(0, nil, fmt.Errorf("peer: create session: %v", r.Err))
			return
		}
		done(id, p.replica.SessionPassword(id), nil)
	})
}

// ReattachSession validates a reconnecting session (clientconn.Backend): its
// password, then, on a learner, the leader's word (REVALIDATE, as
// upstream's Learner.validateSession: it also makes this server the
// session's owner, without which a Java leader refuses the session's
// writes with SESSIONMOVED), and that this server knows it as live. A
// session this server does not know may have been created through
// another server moments ago and not be applied here yet: this server
// then catches up with the leader (a sync) and looks again.
func (p *Peer) ReattachSession(id int64, passwd []byte, timeoutMs int32, done func(bool, int32)) {
	if !p.replica.CheckSessionPassword(id, passwd) {
		done(false, 0)
		return
	}
	if p.readOnly.Load() {
		done(p.reattach(id), timeoutMs)
		return
	}
	p.revalidateSession(id, timeoutMs, func(valid bool) {
		switch {
		case !valid:
			done(false, 0)
		case p.reattach(id):
			done(true, timeoutMs)
		default:
			p.Sync(id, func(code proto.ErrCode) {
				done(code == proto.ErrOK && p.reattach(id), timeoutMs)
			})
		}
	})
}

// revalidateSession asks the leader, through the peer loop, whether
// session id lives (a leader answers itself true: its own table decides).
func (p *Peer) revalidateSession(id int64, timeoutMs int32, done func(valid bool)) {
	p.waitMu.Lock()
	p.revals[id] = append(p.revals[id], done)
	p.waitMu.Unlock()
	r := request{revalidate: true, session: id, timeout: timeoutMs}
	select {
	case p.reqCh <- r:
	case <-p.stop:
		p.failRequest(r, proto.ErrConnectionLoss)
	}
}

// revalidated ends the REVALIDATEs of session id waiting for the leader.
func (p *Peer) revalidated(id int64, valid bool) {
	p.waitMu.Lock()
	dones := p.revals[id]
	delete(p.revals, id)
	p.waitMu.Unlock()
	for _, done := range dones {
		done(valid)
	}
}

// reattach touches session id and reports whether this server knows it as
// live (or local).
func (p *Peer) reattach(id int64) bool {
	live, _ := p.replica.Touch(id)
	p.sessMu.Lock()
	defer p.sessMu.Unlock()
	if _, local := p.local[id]; local {
		live = true
	}
	if live {
		p.touched[id] = struct{}{}
	}
	return live
}

// Touch records session activity (clientconn.Backend).
func (p *Peer) Touch(id int64) bool {
	p.sessMu.Lock()
	_, local := p.local[id]
	p.sessMu.Unlock()
	if local {
		return true
	}
	if _, known := p.replica.Touch(id); !known {
		return false
	}
	p.sessMu.Lock()
	p.touched[id] = struct{}{}
	p.sessMu.Unlock()
	return true
}

// Submit sends a write to the leader through the peer loop (clientconn.Backend).
func (p *Peer) Submit(req *proto.Request, done func(clientconn.WriteResult)) {
	if p.readOnly.Load() {
		if req.Op == proto.OpCloseSession {
			p.sessMu.Lock()
			delete(p.local, req.SessionID)
			p.sessMu.Unlock()
			done(clientconn.WriteResult{Zxid: p.replica.LastApplied()})
			return
		}
		done(clientconn.WriteResult{Err: proto.ErrNotReadOnly})
		return
	}
	if req.Op == proto.OpCloseSession {
		p.replica.SetClosing(req.SessionID)
	}
	p.submit(req, done)
}

func (p *Peer) submit(req *proto.Request, done func(clientconn.WriteResult)) {
	k := reqKey{req.SessionID, req.Cxid}
	p.waitMu.Lock()
	p.waiters[k] = done
	p.waitMu.Unlock()
	select {
	case p.reqCh <- request{write: req}:
	case <-p.stop:
		p.failRequest(request{write: req}, proto.ErrConnectionLoss)
	}
}

// Sync completes once this server has applied everything the leader had
// committed when it saw the sync (clientconn.Backend).
func (p *Peer) Sync(session int64, done func(proto.ErrCode)) {
	if p.readOnly.Load() {
		done(proto.ErrNotReadOnly)
		return
	}
	p.waitMu.Lock()
	p.nextSync++
	t := uint64(uint32(p.nextSync)) // tokens travel in a sync's int cxid
	p.syncs[t] = done
	p.waitMu.Unlock()
	select {
	case p.reqCh <- request{sync: true, token: t, session: session}:
	case <-p.stop:
		p.failRequest(request{sync: true, token: t}, proto.ErrConnectionLoss)
	}
}

// ServerStats reports figures for the four-letter words (clientconn.Backend).
func (p *Peer) ServerStats() clientconn.Stats {
	mode := "follower"
	switch election.State(p.state.Load()) {
	case election.Leading:
		mode = "leader"
	case election.Observing:
		mode = "observer"
	case election.Looking:
		mode = "looking"
	}
	if p.readOnly.Load() {
		mode = "read-only"
	} else if !p.serving.Load() {
		// Elected but not yet established (or synced): not serving, as
		// upstream reports it. FLE may briefly make two servers believe
		// they lead; only the one Zab establishes ever serves.
		mode = "looking"
	}
	p.waitMu.Lock()
	outstanding := len(p.waiters)
	p.waitMu.Unlock()
	last := p.replica.LastApplied()
	if e := p.epoch.Load(); p.serving.Load() && last>>32 < e {
		// Upstream reports the new epoch as soon as it serves in it
		// (zxid epoch<<32), before the epoch's first txn.
		last = e << 32
	}
	st := clientconn.Stats{
		Mode:        mode,
		LastZxid:    last,
		Epoch:       last >> 32,
		Outstanding: outstanding,
		Extra: [][2]string{
			{"zk_peer_state", mode},
			{"zk_leader_id", fmt.Sprint(p.leader.Load())},
			{"zk_current_epoch", fmt.Sprint(p.epoch.Load())},
			{"zk_fsync_count", fmt.Sprint(p.fsyncs.Load())},
			{"zk_fsync_txns", fmt.Sprint(p.fsyncTxns.Load())},
			{"zk_fsync_mean_batch", fmt.Sprintf("%.2f", float64(p.fsyncTxns.Load())/float64(max(p.fsyncs.Load(), 1)))},
		},
	}
	if mode == "leader" {
		st.Followers = int(p.learner.Load())
		st.SyncedFollowers = int(p.synced.Load())
	}
	return st
}

// Sessions lists live sessions (clientconn.SessionLister).
func (p *Peer) Sessions() map[int64]int32 { return p.replica.Sessions() }
