package zab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// learner phases as the leader sees them (one LearnerHandler upstream).
type lphase int

const (
	lpInfo    lphase = iota // FOLLOWERINFO received, epoch not decided yet
	lpEpoch                 // LEADERINFO sent, waiting for ACKEPOCH
	lpAcked                 // ACKEPOCH received, waiting for a quorum of them
	lpSyncing               // sync and NEWLEADER queued; forwarded broadcasts
	lpSynced                // NEWLEADER acked
)

type learner struct {
	id        int64
	observer  bool
	phase     lphase
	accepted  int64 // from FOLLOWERINFO
	current   int64 // from ACKEPOCH (-1: already acked this epoch)
	lastZxid  int64 // from ACKEPOCH
	syncedTo  int64 // last zxid of the history sent in the sync
	acked     int64 // highest zxid this follower has durably logged
	lastHeard int
	upToDate  bool
	// held are the zxids committed between this follower's NEWLEADER and
	// its UPTODATE, whose COMMITs follow UPTODATE: upstream's 3.8 learner
	// takes a COMMIT in that window for the head of the proposals it got
	// after NEWLEADER and fails when there is none (ZOOKEEPER-4394).
	held []int64
}

type pendingSync struct {
	from    int64
	lr      *learner // the connection it came on; nil for the leader's own
	token   []byte
	waitFor int64
}

type leaderState struct {
	epoch            int64 // 0 until decided
	learners         map[int64]*learner
	ids              []int64         // learners' ids in order (learnerIDs); nil when learners changed
	epochVotes       map[int64]int64 // voter -> acceptedEpoch, self included
	ackEpoch         map[int64]bool  // voters whose ACKEPOCH counts, self included
	electionFinished bool            // a quorum acked the epoch; syncs may start
	newLeaderAcks    map[int64]bool
	established      bool
	phaseStart       int
	selfCurrent      int64 // leader's currentEpoch at start (its ACKEPOCH summary)
	selfLast         int64
	committed        int64
	selfDurable      int64   // last zxid the leader itself made durable
	pending          []Entry // proposals after committed, in zxid order
	ackScratch       []int64 // commitPoint's buffer, reused on every ACK
	syncs            []pendingSync
}

func (z *Zab) startLeader() {
	z.l = &leaderState{
		learners:      map[int64]*learner{},
		epochVotes:    map[int64]int64{z.id: z.accepted},
		ackEpoch:      map[int64]bool{},
		newLeaderAcks: map[int64]bool{},
		selfCurrent:   z.current,
		selfLast:      z.log.lastZxid(),
		committed:     z.applied,
		selfDurable:   z.log.lastZxid(),
	}
	z.maybeDecideEpoch()
}

func (z *Zab) stepLeader(m Message) error {
	l := z.l
	p := m.Packet
	if p.Type == TypeFollowerInfo || p.Type == TypeObserverInfo {
		return z.leaderOnInfo(m)
	}
	lr := l.learners[m.From]
	if lr == nil {
		z.logger.Debug("zab: leader: message from unconnected learner", "id", z.id, "msg", m.String())
		return nil
	}
	lr.lastHeard = z.tick
	switch p.Type {
	case TypeAckEpoch:
		if lr.phase != lpEpoch {
			return nil
		}
		cur, ok := getInt32(p.Data)
		if !ok {
			z.dropLearner(lr, fmt.Errorf("zab: ACKEPOCH from %d: short data: %w", lr.id, ErrProtocol))
			return nil
		}
		lr.current, lr.lastZxid, lr.phase = int64(cur), p.Zxid, lpAcked
		if l.electionFinished {
			z.startSync(lr)
			return nil
		}
		if cur != -1 && !lr.observer && z.isVoter(lr.id) {
			ahead := int64(cur) > l.selfCurrent || int64(cur) == l.selfCurrent && p.Zxid > l.selfLast
			if ahead && z.aheadOnlyPastReconfig(lr.id, int64(cur)) {
				// Its extra entries follow the pending reconfig, which
				// this leader holds: they could commit only with a quorum
				// of the next voters, which it is not one of, and the
				// next voters' own ACKEPOCHs show whether any did. The
				// sync truncates them.
				ahead = false
			}
			if ahead {
				z.stop(fmt.Errorf("zab: follower %d has (epoch %d, %s) past leader's (epoch %d, %s): %w",
					lr.id, cur, FormatZxid(p.Zxid), l.selfCurrent, FormatZxid(l.selfLast), ErrFollowerAhead))
				return nil
			}
			l.ackEpoch[lr.id] = true
		}
		z.maybeFinishElection()
	case TypeAck:
		switch {
		case lr.phase == lpSyncing && p.Zxid == Zxid(l.epoch, 0):
			lr.phase = lpSynced
			if !lr.observer {
				lr.acked = max(lr.acked, lr.syncedTo)
			}
			if !l.established {
				if !lr.observer && z.isVoter(lr.id) {
					l.newLeaderAcks[lr.id] = true
				}
				z.maybeEstablish()
				return nil
			}
			z.sendUpToDate(lr)
			z.maybeCommit()
		case lr.phase == lpSynced && !lr.observer && EpochOf(p.Zxid) == l.epoch && p.Zxid <= z.log.lastZxid():
			lr.acked = max(lr.acked, p.Zxid)
			z.maybeCommit()
		}
	case TypePing:
		// lastHeard is all a ping says here.
	case TypeRequest:
		if !l.established || lr.phase != lpSynced {
			return nil
		}
		if IsSyncRequest(p.Data) {
			// Upstream's learner sends its sync as a REQUEST holding an
			// OpSync; the answer is a bare SYNC, matched in FIFO order.
			z.leaderSync(lr.id, nil)
			return nil
		}
		z.out.Requests = append(z.out.Requests, Request{From: lr.id, Data: p.Data, Auth: p.AuthInfo})
	default:
		z.logger.Debug("zab: leader: unexpected packet", "id", z.id, "msg", m.String())
	}
	return nil
}

// leaderOnInfo starts a new handler for a learner that (re)connected, or
// refuses it with ErrRefused.
func (z *Zab) leaderOnInfo(m Message) error {
	l := z.l
	observer := m.Packet.Type == TypeObserverInfo
	if m.From == z.id {
		return fmt.Errorf("zab: learner claims the leader's own id %d: %w", m.From, ErrRefused)
	}
	// A learner connects in the role its own configuration gives it; it
	// counts only if it connected as a follower and votes here (a server
	// about to be added follows without a vote). Where the two
	// configurations disagree, this leader's wins: NEWLEADER carries its
	// membership and the learner comes back in its role, as upstream.
	if observer && z.isVoter(m.From) || !observer && (z.members.observers[m.From] || z.next != nil && z.next.set.observers[m.From]) {
		z.logger.Warn("zab: leader: a learner connected in a role this server's configuration does not give it; NEWLEADER will tell it",
			"id", z.id, "from", m.From, "connected_as", TypeName(m.Packet.Type), "voter_here", z.isVoter(m.From))
	}
	lr := &learner{id: m.From, observer: observer, accepted: EpochOf(m.Packet.Zxid), lastHeard: z.tick}
	if l.established && lr.accepted > l.epoch {
		if observer || !z.isVoter(m.From) {
			// It would refuse LEADERINFO; and only a voter's promise
			// is a reason to make way for a later epoch.
			return fmt.Errorf("zab: learner %d, not a voter here, accepted epoch %d, past this leader's %d: %w",
				m.From, lr.accepted, l.epoch, ErrRefused)
		}
		// The voter promised a later epoch (to a leader that failed to
		// establish it) and will refuse this one. Upstream leaves it out
		// until this leader goes; stepping down lets the next election
		// pick a later epoch. (Before establishment the voter just
		// refuses LEADERINFO: this attempt may still succeed without it.
		// Each round raises the epoch, so this ends.)
		z.stop(fmt.Errorf("zab: voter %d accepted epoch %d, past this leader's %d: %w", m.From, lr.accepted, l.epoch, ErrEpochBehind))
		return nil
	}
	l.setLearner(lr)
	if l.epoch == 0 {
		if !observer && z.isVoter(m.From) {
			l.epochVotes[m.From] = lr.accepted
		}
		z.maybeDecideEpoch()
		return nil
	}
	z.sendLeaderInfo(lr)
	return nil
}

// aheadOnlyPastReconfig reports whether a voter that is ahead of this
// leader can only be ahead with entries past the pending reconfig: it is
// not a voter of the next membership, and it synced with the same epoch
// as the leader, whose history reaches the reconfig entry.
func (z *Zab) aheadOnlyPastReconfig(id, current int64) bool {
	r := z.next
	return r != nil && !r.set.voters[id] && current == z.l.selfCurrent && z.l.selfLast >= r.zxid
}

// maybeDecideEpoch picks the new epoch once a quorum of voters (the leader
// included) told their accepted epochs: one past the largest.
func (z *Zab) maybeDecideEpoch() {
	l := z.l
	if l.epoch != 0 || !z.hasQuorum(voteSet(l.epochVotes)) {
		return
	}
	var e int64
	for _, a := range l.epochVotes {
		e = max(e, a)
	}
	l.epoch = e + 1
	l.phaseStart = z.tick
	z.setEpochs(l.epoch, z.current)
	z.logger.Debug("zab: leader: epoch decided", "id", z.id, "epoch", l.epoch)
	l.ackEpoch[z.id] = true
	for _, id := range l.learnerIDs() {
		z.sendLeaderInfo(l.learners[id])
	}
	z.maybeFinishElection()
}

func (z *Zab) sendLeaderInfo(lr *learner) {
	lr.phase = lpEpoch
	z.send(lr.id, TypeLeaderInfo, Zxid(z.l.epoch, 0), putInt32(ProtocolVersion))
}

// maybeFinishElection: once a quorum acked the epoch, and none of them is
// ahead of the leader, the leader's history is the new epoch's initial
// history and learners are synced to it.
func (z *Zab) maybeFinishElection() {
	l := z.l
	if z.stopped || l.electionFinished || !z.hasQuorum(l.ackEpoch) {
		return
	}
	l.electionFinished = true
	l.phaseStart = z.tick
	z.setEpochs(z.accepted, l.epoch)
	l.newLeaderAcks[z.id] = true
	for _, id := range l.learnerIDs() {
		if lr := l.learners[id]; lr.phase == lpAcked {
			z.startSync(lr)
		}
	}
	z.maybeEstablish()
}

// startSync queues a learner's synchronization: DIFF, TRUNC or SNAP, the
// history it lacks as PROPOSALs, then NEWLEADER. From now on broadcasts
// reach it too, after the sync on the same FIFO connection.
func (z *Zab) startSync(lr *learner) {
	l := z.l
	end := z.log.lastZxid()
	p := lr.lastZxid
	from := p
	f, err := z.log.floor(p)
	switch {
	case err == nil && f == p:
		z.send(lr.id, TypeDiff, p, nil)
	case err == nil && f != 0 && EpochOf(f) == EpochOf(p):
		// The learner has entries past f that this history lacks. It has
		// f itself: f and its later entries were proposed by the one
		// leader of that epoch, in order, on one connection.
		z.send(lr.id, TypeTrunc, f, nil)
		from = f
	default:
		if z.cfg.Snapshotter == nil {
			z.dropLearner(lr, fmt.Errorf("zab: learner %d at %s needs a snapshot and there is no Snapshotter: %w", lr.id, FormatZxid(p), ErrSnapshot))
			return
		}
		snap, err := z.cfg.Snapshotter.Snapshot()
		if err == nil && (snap.Zxid > z.applied || snap.Zxid < z.log.base()) {
			err = fmt.Errorf("zab: snapshot at %s outside [log base %s, applied %s]", FormatZxid(snap.Zxid), FormatZxid(z.log.base()), FormatZxid(z.applied))
		}
		if err != nil {
			z.dropLearner(lr, fmt.Errorf("zab: snapshot for learner %d: %w: %w", lr.id, ErrSnapshot, err))
			return
		}
		z.send(lr.id, TypeSnap, snap.Zxid, snap.Data)
		from = snap.Zxid
	}
	// Before it is established, the leader's whole history is the
	// epoch's initial one, committed once a quorum acks NEWLEADER: as
	// upstream's leader, it syncs all of it as committed, so that no
	// COMMIT follows NEWLEADER for a proposal sent before it (upstream's
	// learner fails on one, ZOOKEEPER-4394). A learner applies it only at
	// UPTODATE, once the leader is established.
	committed := l.committed
	if !l.established {
		committed = end
	}
	if lr.observer {
		// An observer is never proposed anything uncommitted: the rest
		// comes as INFORMs once committed.
		end = min(end, committed)
	}
	for from < end {
		ents, err := z.log.entries(from, end, 1024)
		if err == nil && len(ents) == 0 {
			err = fmt.Errorf("zab: log ends before %s", FormatZxid(end))
		}
		if err != nil {
			z.stop(fmt.Errorf("zab: leader: history for learner %d after %s: %w", lr.id, FormatZxid(from), err))
			return
		}
		for _, e := range ents {
			// As upstream, what is committed goes as a PROPOSAL and
			// COMMIT pair, the rest as a PROPOSAL whose COMMIT is
			// broadcast once it is committed.
			z.send(lr.id, TypeProposal, e.Zxid, e.Data)
			if e.Zxid <= committed {
				z.send(lr.id, TypeCommit, e.Zxid, nil)
			}
		}
		from = ents[len(ents)-1].Zxid
	}
	var membership []byte
	if z.cfg.MembershipData != nil {
		membership = z.cfg.MembershipData(l.epoch)
	}
	z.send(lr.id, TypeNewLeader, Zxid(l.epoch, 0), membership)
	lr.syncedTo = end
	lr.phase = lpSyncing
}

func (z *Zab) dropLearner(lr *learner, err error) {
	z.logger.Warn("zab: leader: dropping learner", "id", z.id, "learner", lr.id, "err", err)
	z.l.removeLearner(lr.id)
}

// maybeEstablish: a quorum acked NEWLEADER, so the leader's whole initial
// history is committed and it may propose.
func (z *Zab) maybeEstablish() {
	l := z.l
	if z.stopped || l.established || !z.hasQuorum(l.newLeaderAcks) {
		return
	}
	l.established = true
	z.active = true
	l.phaseStart = z.tick
	last := z.log.lastZxid()
	if err := z.commitTo(last); err != nil {
		z.stop(err)
		return
	}
	l.committed = last
	z.logger.Debug("zab: leader established", "id", z.id, "epoch", l.epoch, "committed", FormatZxid(last))
	// Every learner being synced got the whole history as committed
	// (startSync): no COMMIT or INFORM is due.
	ids := l.learnerIDs()
	for _, id := range ids {
		if lr := l.learners[id]; lr.phase == lpSynced {
			z.sendUpToDate(lr)
		}
	}
	if z.next != nil && z.next.zxid <= last && !z.activate() {
		// The history held a reconfig that removed this leader: it is
		// committed now; let a voter of the new membership lead.
		z.stop(fmt.Errorf("zab: leader %d after reconfig at %s: %w", z.id, FormatZxid(last), ErrRemoved))
		return
	}
	z.out.RoleChange = &RoleChange{Role: Leader, Epoch: l.epoch, Active: true}
}

// sendUpToDate ends a learner's sync once it acked NEWLEADER and the leader
// is established. Its zxid carries the commit point for this package's
// learners; upstream's learner ignores it (upstream sends -1) and knows
// what is committed from the COMMITs.
func (z *Zab) sendUpToDate(lr *learner) {
	if lr.upToDate {
		return
	}
	lr.upToDate = true
	z.send(lr.id, TypeUpToDate, z.l.committed, nil)
	for _, zxid := range lr.held {
		z.send(lr.id, TypeCommit, zxid, nil)
	}
	lr.held = nil
}

func (z *Zab) propose(data []byte) (int64, error) {
	l := z.l
	zxid, err := z.NextZxid()
	if errors.Is(err, ErrZxidExhausted) {
		// Upstream forces a new election, which starts a new epoch.
		z.stop(err)
	}
	if err != nil {
		return 0, err
	}
	e := Entry{Zxid: zxid, Data: data}
	if err := z.log.append(e); err != nil {
		return 0, err
	}
	l.pending = append(l.pending, e)
	for _, id := range l.learnerIDs() {
		if lr := l.learners[id]; lr.phase >= lpSyncing && !lr.observer {
			z.send(id, TypeProposal, zxid, data)
		}
	}
	return zxid, nil
}

// maybeCommit commits pending proposals, in zxid order, each once a quorum
// of voters (the leader counting only what it made durable) logged it. An
// ACK vouches for every earlier zxid, so the commit point is the quorum-th
// highest acknowledged zxid.
func (z *Zab) maybeCommit() {
	l := z.l
	if !l.established || len(l.pending) == 0 {
		return
	}
	point := z.commitPoint(z.members)
	if r := z.next; r != nil && point >= r.zxid {
		// From the reconfig entry on, the next voters must have it too.
		point = max(r.zxid-1, min(point, z.commitPoint(r.set)))
	}
	if point == 0 {
		return
	}
	n, _ := slices.BinarySearchFunc(l.pending, point, func(e Entry, zxid int64) int {
		switch {
		case e.Zxid < zxid:
			return -1
		case e.Zxid > zxid:
			return 1
		}
		return 0
	})
	if n < len(l.pending) && l.pending[n].Zxid == point {
		n++
	}
	if n == 0 {
		return
	}
	// Reslice rather than copy the window on every ACK (that copy was 88%
	// of a loaded leader's allocations); appends reallocate with only the
	// live part. done's entries are zeroed once they are handed out.
	done := l.pending[:n]
	l.pending = l.pending[n:]
	defer clear(done)
	ids := l.learnerIDs()
	for _, e := range done {
		l.committed = e.Zxid
		z.applied = e.Zxid
		z.out.Commit = append(z.out.Commit, e)
		reconfig := z.next != nil && e.Zxid == z.next.zxid
		designated := z.id
		if reconfig {
			// As upstream, the commit of a reconfig names the leader to
			// follow next: this one if it stays a voter, else a successor
			// among the new voters, so that they need not elect.
			if !z.next.set.voters[z.id] {
				if d := z.designatedLeader(e.Zxid); d != 0 {
					designated = d
				}
			}
			z.sendActivate(ids, e, designated)
		} else {
			z.sendCommit(ids, e)
		}
		// Answer the syncs that waited for e before later commits,
		// as upstream does.
		z.flushSyncs()
		if reconfig && !z.activate() {
			// Upstream's leader stops committing once it committed a
			// membership without itself; the rest of the window is
			// left to the next leader (a quorum of the new voters
			// logged the reconfig, and what came after was proposed
			// to them too).
			if designated != z.id {
				z.out.Designated = designated
			}
			z.stop(fmt.Errorf("zab: leader %d after reconfig at %s: %w", z.id, FormatZxid(e.Zxid), ErrRemoved))
			return
		}
	}
}

// sendCommit tells the learners among ids that are synced or syncing that
// e is committed: COMMIT to followers, INFORM with the txn to observers.
func (z *Zab) sendCommit(ids []int64, e Entry) {
	for _, id := range ids {
		lr := z.l.learners[id]
		switch {
		case lr.phase < lpSyncing:
		case lr.observer:
			z.send(id, TypeInform, e.Zxid, e.Data)
		case !lr.upToDate:
			lr.held = append(lr.held, e.Zxid)
		default:
			z.send(id, TypeCommit, e.Zxid, nil)
		}
	}
}

// sendActivate is sendCommit for a reconfig entry, in upstream's forms:
// COMMITANDACTIVATE to followers and INFORMANDACTIVATE to observers, each
// naming the leader to follow next.
func (z *Zab) sendActivate(ids []int64, e Entry, designated int64) {
	next := binary.BigEndian.AppendUint64(nil, uint64(designated))
	for _, id := range ids {
		lr := z.l.learners[id]
		switch {
		case lr.phase < lpSyncing:
		case lr.observer:
			z.send(id, TypeInformAndActivate, e.Zxid, append(next[:8:8], e.Data...))
		default:
			z.send(id, TypeCommitAndActivate, e.Zxid, next)
		}
	}
}

// designatedLeader picks the successor of a leader that a reconfig at zxid
// removes, as upstream's getDesignatedLeader: among the next voters that
// logged the reconfig, one that logged the most of what was proposed after
// it (the fewest proposals are lost), the lowest id of those. 0 if none.
func (z *Zab) designatedLeader(zxid int64) int64 {
	last := z.log.lastZxid()
	var best, bestAck int64
	for _, id := range z.l.learnerIDs() {
		lr := z.l.learners[id]
		if lr.phase != lpSynced || lr.observer || !z.next.set.voters[id] || lr.acked < zxid {
			continue
		}
		if ack := min(lr.acked, last); best == 0 || ack > bestAck {
			best, bestAck = id, ack
		}
	}
	return best
}

// leaderSync answers a sync once everything proposed before it is committed.
func (z *Zab) leaderSync(from int64, token []byte) {
	z.l.syncs = append(z.l.syncs, pendingSync{from: from, lr: z.l.learners[from], token: token, waitFor: z.log.lastZxid()})
	z.flushSyncs()
}

func (z *Zab) flushSyncs() {
	l := z.l
	n := 0
	for _, s := range l.syncs {
		if s.waitFor > l.committed {
			break
		}
		n++
		if s.from == z.id {
			z.synced(s.token)
		} else if lr := l.learners[s.from]; lr != nil && lr == s.lr {
			// The answer goes on the connection the request came on;
			// a learner that reconnected since has forgotten it.
			z.send(s.from, TypeSync, 0, nil)
		}
	}
	clear(l.syncs[:n])
	l.syncs = l.syncs[n:]
}

func (z *Zab) tickLeader() {
	l := z.l
	if !l.established {
		if z.tick-l.phaseStart > z.cfg.InitLimitTicks {
			z.stop(fmt.Errorf("zab: leader: epoch %d not established in %d ticks: %w", l.epoch, z.cfg.InitLimitTicks, ErrInitTimeout))
			return
		}
	}
	votes := 1
	for _, id := range l.learnerIDs() {
		lr := l.learners[id]
		limit := z.cfg.SyncLimitTicks
		if lr.phase < lpSynced {
			limit = z.cfg.InitLimitTicks
		}
		if z.tick-lr.lastHeard > limit {
			z.dropLearner(lr, fmt.Errorf("zab: learner %d silent for %d ticks", id, z.tick-lr.lastHeard))
			continue
		}
		if lr.phase >= lpSyncing {
			z.send(id, TypePing, z.log.lastZxid(), nil)
		}
		if lr.phase == lpSynced && !lr.observer && z.members.voters[id] {
			votes++
		}
	}
	if l.established && votes < z.members.quorum {
		z.stop(fmt.Errorf("zab: leader of epoch %d: %d of %d voters in touch: %w", l.epoch, votes, len(z.members.voters), ErrQuorumLost))
	}
}

// voteSet is the set of ids that told their epoch.
func voteSet(votes map[int64]int64) map[int64]bool {
	ids := make(map[int64]bool, len(votes))
	for id := range votes {
		ids[id] = true
	}
	return ids
}

// setLearner records lr; removeLearner forgets a learner. Both go
// through here so that the cached order (ids) follows.
func (l *leaderState) setLearner(lr *learner) {
	l.learners[lr.id] = lr
	l.ids = nil
}

func (l *leaderState) removeLearner(id int64) {
	delete(l.learners, id)
	l.ids = nil
}

// learnerIDs returns the learners' ids in order, computed once per change
// of learners rather than on every proposal and ACK. Callers must not
// change it; one that ranges over it may drop learners meanwhile.
func (l *leaderState) learnerIDs() []int64 {
	if l.ids == nil {
		l.ids = sortedKeys(l.learners)
	}
	return l.ids
}

func sortedKeys[V any](m map[int64]V) []int64 {
	ks := make([]int64, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
