package peer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/zkbench/zkbench/server/election"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/quorum"
	"github.com/zkbench/zkbench/server/txnprep"
	"github.com/zkbench/zkbench/server/zab"
)

// discoveryWait is how long an elected leader waits for a quorum of voters
// to connect before it concludes they chose another leader.
const discoveryWait = 500 * time.Millisecond

// rivalWait replaces discoveryWait once the elected leader has seen a
// voter still LOOKING with a better vote than the one it was elected with
// (a rival): the election then certainly split, and the servers looking
// for that better leader cannot complete without this server's quorum.
// Followers that did choose this leader connect within milliseconds of
// deciding, so a leader without a quorum this long after its election
// gives way. Giving way is always safe: it only costs an election.
const rivalWait = 60 * time.Millisecond

// errRoleChanged: the leader's configuration gives this server another
// role (observer or participant) than the one it connected in.
var errRoleChanged = errors.New("role changed by the leader's configuration")

// errSplitDecision: the election decided differently elsewhere.
var errSplitDecision = errors.New("the election decided another leader elsewhere")

// reignState is what one reign (one Zab machine) keeps.
type reignState struct {
	z       *zab.Zab
	role    zab.Role
	leader  int64
	in      chan inPacket
	stop    chan struct{}
	conns   map[int64]*qconn // leader: learners by id
	toLead  *qconn           // learner: the connection to the leader
	pending []zab.Request    // forwarded writes to prepare after Advance
	dead    []int64          // peers whose connection broke while routing
	// flushOnClose: send what is queued before closing the learners'
	// connections (a removed leader's last COMMITs).
	flushOnClose bool
	started      time.Time     // when the reign began (a learner's sync time)
	proposed     []proposed    // leader: this reign's proposals not yet committed, in zxid order
	sync         *logSyncer    // fsyncs the appended entries off the loop
	enc          proto.Encoder // the scratch buffer of propose (encodeTxn) and forwards (encodeRequest)
	dec          proto.Decoder // the loop's, reused for forwarded requests and committed txns

	// A learner's connections to its leader (redial.go): how many it
	// made, whether the leader spoke on one, and what it sent before.
	dials   int
	heard   bool
	unheard []proto.QuorumPacket
}

// proposed is a leader's proposal awaiting its quorum (quorum_ack_latency).
type proposed struct {
	zxid int64
	at   time.Time
}

// committed records, on the leader, the commit of e: commit_count, and the
// quorum ack latency of a proposal this reign made.
func (p *Peer) committed(rs *reignState, zxid int64) {
	m := p.metrics
	m.CommitCount.Inc()
	for len(rs.proposed) > 0 && rs.proposed[0].zxid <= zxid {
		if rs.proposed[0].zxid == zxid {
			m.QuorumAckLatency.Observe(time.Since(rs.proposed[0].at))
		}
		rs.proposed = rs.proposed[1:]
	}
}

// reign runs Zab in the decided role until the machine stops.
func (p *Peer) reign(ctx context.Context, dec election.Decision) error {
	rs := &reignState{leader: dec.Leader, in: make(chan inPacket, 4096), stop: make(chan struct{}), conns: map[int64]*qconn{}, started: time.Now(),
		sync: newLogSyncer()}
	defer func() {
		// What this reign appended is synced before the next one starts
		// (or the log is found failed, afterLogFailure): the window and
		// the election then speak for what is on disk.
		if _, err := p.waitSynced(rs); err != nil {
			p.log.Warn("the log's last fsync of the reign failed", "err", err)
		}
		rs.sync.stop()
		close(rs.stop)
		if rs.flushOnClose {
			flushAll(rs.conns, flushWait)
		}
		for _, c := range rs.conns {
			c.close()
		}
		if rs.toLead != nil {
			rs.toLead.close()
		}
	}()
	switch {
	case dec.State == election.Leading:
		rs.role = zab.Leader
	case dec.State == election.Observing && p.isObserver():
		rs.role = zab.Observer
	default:
		// A participant that is not a voter (a reconfig removed it, or
		// is about to add it) follows without being counted, as
		// upstream's non-voting participants do.
		rs.role = zab.Follower
		dec.State = election.Following
	}
	if p.elect.State() != dec.State {
		// The election decided OBSERVING for a participant it did not
		// count as a voter. Advertise what this server does: a reconfig
		// may make it a voter while it follows, and a looking voter
		// ignores OBSERVING notifications, so it could never count this
		// one towards the quorum it needs to join the leader.
		p.elect.SetState(dec.State, p.elect.Vote())
	}
	p.state.Store(int32(dec.State))
	p.leader.Store(dec.Leader)
	tickTime := time.Duration(p.cfg.TickTime) * time.Millisecond

	if rs.role != zab.Leader {
		p.closeEarly(0)
		if err := p.connectLeader(rs); err != nil {
			return err
		}
	} else {
		// Learners that decided before we did connected already.
		maxAge := time.Duration(p.cfg.InitLimit) * tickTime
		for _, ec := range p.early {
			if time.Since(ec.at) < maxAge {
				c := newQconn(ec.qc, 0)
				go c.readLoop(rs.in, rs.stop)
			} else {
				ec.qc.Close()
			}
		}
		p.early = nil
		p.replica.Prep().Reset()
		p.replica.TouchAll() // a new leader gives every session a full timeout
	}

	var membership func(int64) []byte
	if rs.role == zab.Leader && p.cfg.ReconfigEnabled {
		// Only with reconfigEnabled do members take the leader's view, as
		// upstream: otherwise each keeps its own files' (their addresses
		// may differ, e.g. behind per-link proxies).
		membership = p.leaderMembership
	}
	z, err := zab.New(zab.Config{
		ID: p.id, Voters: p.members.Voters(), Observers: p.members.Observers(),
		Pending: p.pending, MembershipData: membership,
		Leader: dec.Leader, Role: rs.role,
		InitLimitTicks: p.cfg.InitLimit, SyncLimitTicks: p.cfg.SyncLimit,
		Storage: p.store, Applied: p.replica.LastApplied(),
		Snapshotter: snapshotSource{p},
		Logger:      p.log.With("part", "zab"),
	})
	if err != nil {
		return err
	}
	rs.z = z
	p.zab = z
	defer func() { p.zab = nil }()
	tick := time.NewTicker(tickTime)
	defer tick.Stop()
	// Fast Leader Election can let two servers each decide that it leads
	// (they saw votes in different orders). Followers connect within
	// milliseconds of deciding, so a leader that has not heard from a
	// quorum of voters by discoveryWait (no epoch decided) lost that race:
	// it elects again at once rather than waiting out initLimit ticks.
	//
	// A split shows itself sooner when a voter still LOOKING proposes a
	// better vote than ours: then the wait is cut to rivalWait. (Seen
	// under CPU starvation with 7 servers: a quorum counted one voter's
	// first vote, decided within the finalize wait, and that voter moved
	// on to a better leader; the rest waited out the whole discoveryWait.)
	reap, err := p.newReapTimer(rs.role)
	if err != nil {
		return err
	}
	defer reap.stop()
	var discovery <-chan time.Time
	elected := time.Now()
	var rival *election.Notification
	if rs.role == zab.Leader {
		discovery = time.After(discoveryWait)
	}
	for {
		if err := p.drive(rs); err != nil {
			return err
		}
		select {
		case in := <-rs.in:
			p.onPacket(rs, in)
		case err := <-rs.sync.done:
			if err := p.onSynced(rs, err); err != nil {
				return err
			}
		case qc := <-p.accepted:
			if rs.role == zab.Leader {
				c := newQconn(qc, 0)
				go c.readLoop(rs.in, rs.stop)
			} else {
				// A learner that takes us for its leader before we know
				// it: a reconfig designated us as the successor and the
				// learner saw the old leader go first. Held until this
				// reign ends (if we lead next, it is used) or briefly.
				p.early = append(p.early, earlyConn{qc, time.Now()})
			}
		case <-tick.C:
			z.Tick()
			p.onTick(rs)
			if rs.role != zab.Leader {
				p.closeEarly(discoveryWait)
			}
		case <-discovery:
			if z.Status().Epoch == 0 {
				if rival != nil {
					return fmt.Errorf("peer: no quorum of voters connected within %v of being elected, and server %d is looking with the better vote %v: %w",
						time.Since(elected).Round(time.Millisecond), rival.From, rival.Vote, errSplitDecision)
				}
				return fmt.Errorf("peer: no quorum of voters connected within %v of being elected: %w", discoveryWait, errSplitDecision)
			}
		case r := <-p.reqCh:
			p.onRequest(rs, r)
		case <-reap.c():
			p.reap(rs, reap)
		case m, ok := <-p.etr.Recv():
			if ok {
				n, ok := p.stepElection(m)
				p.flushElection()
				if ok && rs.role == zab.Leader && rival == nil && p.isRival(n, dec.Vote) && z.Status().Epoch == 0 {
					rival = &n
					discovery = time.After(max(0, rivalWait-time.Since(elected)))
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		// Take whatever else is already waiting, so one Ready (one
		// fsync) covers it: the group commit.
		for i := 0; i < 256; i++ {
			select {
			case in := <-rs.in:
				p.onPacket(rs, in)
				continue
			case r := <-p.reqCh:
				p.onRequest(rs, r)
				continue
			default:
			}
			break
		}
	}
}

func (p *Peer) onPacket(rs *reignState, in inPacket) {
	if in.err != nil {
		if in.conn.sid != 0 {
			if rs.role == zab.Leader {
				// Only the learner's current connection speaks for
				// it: one that was refused or replaced ends quietly.
				if rs.conns[in.conn.sid] == in.conn {
					delete(rs.conns, in.conn.sid)
					p.learner.Store(int32(len(rs.conns)))
					rs.z.Disconnected(in.conn.sid)
				}
			} else if in.conn == rs.toLead && !p.redialLeader(rs) {
				rs.z.Disconnected(rs.leader)
			}
		}
		return
	}
	sid := in.conn.sid
	if rs.role != zab.Leader && in.conn == rs.toLead {
		rs.heard = true
	}
	if rs.role == zab.Leader && !p.learnerConn(rs, in) {
		return
	}
	if rs.role == zab.Leader && in.pkt.Type == zab.TypePing && len(in.pkt.Data) > 0 {
		// A learner's PING carries the sessions its clients touched.
		p.replica.TouchEach(decodeTouches(in.pkt.Data))
	}
	if in.pkt.Type == zab.TypeRevalidate {
		if rs.role == zab.Leader {
			p.revalidate(in.conn, in.pkt)
		} else if in.conn == rs.toLead {
			p.onRevalidated(in.pkt)
		}
		return
	}
	if err := rs.z.Step(zab.Message{From: sid, To: p.id, Packet: *in.pkt}); errors.Is(err, zab.ErrRefused) {
		p.refused(rs, in.conn, err)
	} else if err != nil {
		p.log.Debug("zab step", "from", sid, "type", zab.TypeName(in.pkt.Type), "err", err)
	}
}

// onTick: the leader expires sessions; learners report touched sessions.
func (p *Peer) onTick(rs *reignState) {
	if !p.serving.Load() {
		return
	}
	if rs.role == zab.Leader {
		for _, id := range p.replica.ExpiredSessions() {
			p.propose(rs, &proto.Request{SessionID: id, Op: proto.OpCloseSession})
		}
		return
	}
	p.sessMu.Lock()
	ids := make([]int64, 0, len(p.touched))
	for id := range p.touched {
		ids = append(ids, id)
	}
	clear(p.touched)
	p.sessMu.Unlock()
	if len(ids) > 0 && rs.toLead != nil {
		rs.toLead.send(&proto.QuorumPacket{Type: zab.TypePing, Data: p.encodeTouches(ids)})
	}
}

func (p *Peer) onRequest(rs *reignState, r request) {
	if !p.serving.Load() {
		p.failRequest(r, proto.ErrConnectionLoss)
		return
	}
	var err error
	switch {
	case r.revalidate:
		if rs.role == zab.Leader {
			p.revalidated(r.session, true)
			return
		}
		// Upstream's form: long id, int timeout; zxid -1.
		data := binary.BigEndian.AppendUint64(nil, uint64(r.session))
		data = binary.BigEndian.AppendUint32(data, uint32(r.timeout))
		if rs.toLead == nil {
			err = errors.New("peer: no leader connection")
		} else {
			rs.toLead.send(&proto.QuorumPacket{Type: zab.TypeRevalidate, Zxid: -1, Data: data})
		}
	case r.sync:
		err = rs.z.Sync(encodeToken(r.session, r.token))
	case rs.role == zab.Leader:
		p.propose(rs, r.write)
		return
	default:
		err = rs.z.Forward(encodeRequest(&rs.enc, r.write), r.write.Auth)
	}
	if err != nil {
		p.failRequest(r, proto.ErrConnectionLoss)
	}
}

// propose prepares a write on the leader with the zxid Zab will give it,
// and proposes it.
func (p *Peer) propose(rs *reignState, req *proto.Request) {
	next, err := rs.z.NextZxid()
	if err != nil {
		p.failRequest(request{write: req}, proto.ErrConnectionLoss)
		return
	}
	txn, err := p.replica.Prep().Prepare(req, next, time.Now().UnixMilli())
	if err != nil {
		p.log.Warn("dropping a request the prep stage cannot handle", "op", req.Op, "err", err)
		p.failRequest(request{write: req}, proto.ErrMarshallingError)
		return
	}
	data := encodeTxn(&rs.enc, txn)
	var zxid int64
	if txn.Header.Type == proto.OpReconfig {
		m, ok := reconfigMembers(data)
		if !ok {
			panic(fmt.Sprintf("peer: the prep stage made a reconfig txn this server cannot read (0x%x)", next))
		}
		zxid, err = rs.z.ProposeReconfig(data, zabMembership(m))
	} else {
		zxid, err = rs.z.Propose(data)
	}
	if err != nil {
		p.replica.Prep().Reset()
		p.failRequest(request{write: req}, proto.ErrConnectionLoss)
		return
	}
	if zxid != next {
		panic(fmt.Sprintf("peer: zab gave zxid 0x%x to a txn prepared as 0x%x", zxid, next))
	}
	p.metrics.ProposalCount.Inc()
	rs.proposed = append(rs.proposed, proposed{zxid, time.Now()})
}

// drive does what Zab's Ready asks, in the order of zab's driver duties,
// until Zab has nothing more; it returns the reason the machine stopped.
func (p *Peer) drive(rs *reignState) error {
	z := rs.z
	for z.HasReady() {
		rd := z.Ready()
		var durable int64 // to tell Zab after Advance
		if rd.Snapshot != nil || rd.Truncate != nil {
			var err error
			if durable, err = p.waitSynced(rs); err != nil {
				return err
			}
		}
		if rd.Snapshot != nil {
			if err := p.installSnapshot(*rd.Snapshot); err != nil {
				return err
			}
		}
		if rd.Truncate != nil {
			if err := p.truncate(*rd.Truncate); err != nil {
				return err
			}
		}
		if len(rd.Persist) > 0 {
			if err := p.store.append(rd.Persist); err != nil {
				return err
			}
		}
		if rd.Epochs != nil {
			if err := p.store.saveEpochs(*rd.Epochs); err != nil {
				return err
			}
		}
		// Nothing in rd.Messages vouches for rd.Persist (zab holds a
		// follower's ACKs and the leader's own vote until Persisted), so
		// they go now, and the syncer fsyncs the entries meanwhile.
		for i := range rd.Messages {
			p.route(rs, &rd.Messages[i])
		}
		if len(rd.Persist) > 0 {
			rs.sync.add(p.store.log.Sync, rd.Persist)
		}
		if rd.LeaderMembership != nil && p.cfg.ReconfigEnabled {
			if m, err := quorum.ParseMembers(string(rd.LeaderMembership)); err == nil && m.Version >= p.members.Version {
				p.adoptMembers(m, "the leader's configuration", true)
				if (rs.role == zab.Observer) != p.isObserver() {
					// Upstream's learner restarts in the role the leader's
					// configuration gives it (updateLearnerType).
					return fmt.Errorf("peer: the leader's configuration changes this server's role: %w", errRoleChanged)
				}
			}
		}
		if rs.role != zab.Leader {
			p.metrics.LearnerProposals.Add(int64(len(rd.Persist)))
			p.metrics.LearnerCommits.Add(int64(len(rd.Commit)))
		}
		for _, e := range rd.Commit {
			p.applyEntry(&rs.dec, e, rs.role == zab.Leader)
			if rs.role == zab.Leader {
				p.committed(rs, e.Zxid)
			}
		}
		if rd.Designated != 0 {
			p.designated = rd.Designated
		}
		if rs.role != zab.Leader && (rs.role == zab.Observer) != p.isObserver() {
			// A reconfig made this learner an observer, or a participant:
			// as upstream's updateLearnerType, it comes back in that role.
			return fmt.Errorf("peer: a reconfig changed this server's role: %w", errRoleChanged)
		}
		p.store.trim(p.replica.LastApplied())
		rs.pending = append(rs.pending, rd.Requests...)
		for _, tok := range rd.Synced {
			p.completeSync(tok)
		}
		var stopped error
		if rc := rd.RoleChange; rc != nil {
			switch {
			case rc.Lost:
				stopped = rc.Err
				if stopped == nil {
					stopped = errors.New("peer: zab stopped")
				}
				// A leader a reconfig removed has just committed it, naming
				// its successor: let those COMMITs reach the learners.
				rs.flushOnClose = errors.Is(stopped, zab.ErrRemoved)
			case rc.Active:
				if rs.role != zab.Leader {
					p.metrics.FollowerSyncTime.Observe(time.Since(rs.started))
				}
				p.epoch.Store(rc.Epoch)
				if p.cfg.ReconfigEnabled && p.members.Version == 0 {
					// ZOOKEEPER-1783: an established initial configuration
					// takes the epoch's NEWLEADER zxid as its version.
					m := p.members
					m.Version = zab.Zxid(rc.Epoch, 0)
					p.adoptMembers(m, "epoch established", true)
				}
				p.serving.Store(true)
				// Advertise the established epoch in our vote, as upstream's
				// updateElectionVote: a restarted server joins the leader
				// only when the votes it hears agree on the epoch too.
				v := p.elect.Vote()
				v.PeerEpoch = rc.Epoch
				p.elect.SetState(p.elect.State(), v)
				p.log.Info("serving", "role", rc.Role, "epoch", rc.Epoch, "leader", rs.leader,
					"last_zxid", fmt.Sprintf("0x%x", p.replica.LastApplied()))
			}
		}
		z.Advance(rd)
		if durable != 0 {
			z.Persisted(durable)
		}
		if stopped != nil {
			return stopped
		}
		if rs.role == zab.Leader {
			p.synced.Store(int32(z.Status().SyncedFollowers))
		}
		for _, id := range rs.dead {
			z.Disconnected(id)
		}
		rs.dead = nil
		if len(rs.pending) > 0 && rs.role == zab.Leader {
			reqs := rs.pending
			rs.pending = nil
			for _, r := range reqs {
				req, err := decodeRequest(&rs.dec, r.Data, r.Auth)
				if err != nil {
					p.log.Warn("dropping a malformed forwarded request", "from", r.From, "err", err)
					continue
				}
				p.propose(rs, req)
			}
		}
	}
	return nil
}

// route sends a zab message to its peer.
func (p *Peer) route(rs *reignState, m *zab.Message) {
	pkt := &m.Packet
	if rs.role == zab.Leader {
		switch pkt.Type {
		case zab.TypeDiff:
			p.metrics.DiffCount.Inc()
		case zab.TypeSnap:
			p.metrics.SnapCount.Inc()
		}
		if c, ok := rs.conns[m.To]; ok {
			if !c.send(pkt) {
				delete(rs.conns, m.To)
				rs.dead = append(rs.dead, m.To)
			}
		}
		return
	}
	if rs.toLead == nil {
		return
	}
	rs.sentToLeader(pkt)
	// Before the leader spoke, a lost packet is sent again on the
	// connection redialLeader makes when the reader sees the end.
	if !rs.toLead.send(pkt) && rs.heard {
		rs.dead = append(rs.dead, rs.leader)
	}
}

// closeEarly closes the held learner connections older than maxAge (all
// of them for 0): a learner that connected to a server that did not come
// to lead fails fast and elects again.
func (p *Peer) closeEarly(maxAge time.Duration) {
	kept := p.early[:0]
	for _, ec := range p.early {
		if maxAge > 0 && time.Since(ec.at) < maxAge {
			kept = append(kept, ec)
		} else {
			ec.qc.Close()
		}
	}
	clear(p.early[len(kept):])
	p.early = kept
}

// isRival reports whether n comes from a voter still LOOKING, in the round
// of ours or a later one, with a better vote than ours: proof that the
// election that made us leader split.
func (p *Peer) isRival(n election.Notification, ours election.Vote) bool {
	return n.State == election.Looking && p.members.IsVoter(n.From) &&
		n.Vote.ElectionEpoch >= ours.ElectionEpoch && n.Vote.Better(ours)
}

// maxScratch bounds the encoder a reign keeps between proposals (and
// forwarded requests); a larger record's buffer is dropped after use.
const maxScratch = 64 << 10

// encodeTxn serializes txn into the reused scratch encoder and returns an
// exact-size copy (exactCopy), which Zab, the log and the DIFF window keep.
func encodeTxn(scratch *proto.Encoder, txn *txnprep.Txn) []byte {
	return exactCopy(scratch, txn.Encode)
}

// exactCopy serializes a record with encode into the reused scratch
// encoder and returns a copy of exactly its size: one allocation per
// record instead of one per doubling of a growing buffer.
func exactCopy(scratch *proto.Encoder, encode func(*proto.Encoder)) []byte {
	scratch.Reset()
	encode(scratch)
	data := bytes.Clone(scratch.Bytes())
	if cap(scratch.Bytes()) > maxScratch {
		*scratch = proto.Encoder{}
	}
	return data
}
