package zab

import (
	"fmt"
	"slices"
)

// Membership is one configuration of the ensemble as Zab sees it: who votes
// and who observes. Servers in neither list may still follow (non-voting
// participants: a server about to be added, or one that was removed) or
// observe; they receive the broadcast and are never counted.
type Membership struct {
	Voters, Observers []int64
}

// Reconfig is a membership change proposed as a log entry: from the entry
// at Zxid on, every proposal needs a quorum of both the current and the
// Next voters, and once Zxid commits, Next is the membership (upstream's
// joint "qvAcksetPairs").
type Reconfig struct {
	Zxid int64
	Next Membership
}

// quorumSet is a membership with its lookups precomputed.
type quorumSet struct {
	voters, observers map[int64]bool
	quorum            int
}

func newQuorumSet(m Membership) (quorumSet, error) {
	q := quorumSet{voters: map[int64]bool{}, observers: map[int64]bool{}}
	for _, v := range m.Voters {
		q.voters[v] = true
	}
	for _, o := range m.Observers {
		if q.voters[o] {
			return quorumSet{}, fmt.Errorf("zab: config: server %d is both voter and observer", o)
		}
		q.observers[o] = true
	}
	if len(q.voters) == 0 {
		return quorumSet{}, fmt.Errorf("zab: config: no voters")
	}
	q.quorum = len(q.voters)/2 + 1
	return q, nil
}

// count returns how many of ids are voters of q.
func (q quorumSet) count(ids map[int64]bool) int {
	n := 0
	for id, ok := range ids {
		if ok && q.voters[id] {
			n++
		}
	}
	return n
}

// commitPoint is the highest zxid a quorum of q's voters has logged: the
// leader's own durable point and its synced followers' acknowledgements;
// 0 when fewer than a quorum are known. It runs on every ACK, so it reuses
// one buffer.
func (z *Zab) commitPoint(q quorumSet) int64 {
	l := z.l
	acks := l.ackScratch[:0]
	if q.voters[z.id] {
		acks = append(acks, l.selfDurable)
	}
	for id, lr := range l.learners {
		if lr.phase == lpSynced && !lr.observer && q.voters[id] {
			acks = append(acks, lr.acked)
		}
	}
	l.ackScratch = acks
	if len(acks) < q.quorum {
		return 0
	}
	slices.Sort(acks)
	return acks[len(acks)-q.quorum]
}

func (q quorumSet) membership() Membership {
	return Membership{Voters: sortedKeys(q.voters), Observers: sortedKeys(q.observers)}
}

// hasQuorum reports whether ids hold a quorum of the current voters and,
// while a reconfig is pending, of the next ones too.
func (z *Zab) hasQuorum(ids map[int64]bool) bool {
	if z.members.count(ids) < z.members.quorum {
		return false
	}
	return z.next == nil || z.next.set.count(ids) >= z.next.set.quorum
}

// isVoter reports whether id votes in the current or the pending membership.
func (z *Zab) isVoter(id int64) bool {
	return z.members.voters[id] || z.next != nil && z.next.set.voters[id]
}

// pendingReconfig is a proposed membership change not yet committed.
type pendingReconfig struct {
	zxid int64
	set  quorumSet
}

// Membership returns the membership in force (the last committed one).
func (z *Zab) Membership() Membership { return z.members.membership() }

// QuorumSynced reports, on an established leader, whether the leader and
// the learners it has synced hold a quorum of m's voters (upstream's
// isQuorumSynced: a reconfig to m is refused otherwise).
func (z *Zab) QuorumSynced(m Membership) bool {
	if z.role != Leader || z.stopped || !z.l.established {
		return false
	}
	q, err := newQuorumSet(m)
	if err != nil {
		return false
	}
	ids := map[int64]bool{z.id: true}
	for id, lr := range z.l.learners {
		if lr.phase == lpSynced && !lr.observer {
			ids[id] = true
		}
	}
	return q.count(ids) >= q.quorum
}

// ReconfigPending reports whether a proposed membership change has not
// committed yet (upstream refuses another reconfig meanwhile).
func (z *Zab) ReconfigPending() bool { return z.next != nil }

// ProposeReconfig proposes data, a reconfig txn, at the leader: from it on,
// proposals need a quorum of both the current voters and next's, and when
// it commits next is the membership. A leader that is not a voter of next
// stops right after committing it (ErrRemoved); the ensemble elects a
// leader among the new voters.
func (z *Zab) ProposeReconfig(data []byte, next Membership) (int64, error) {
	if z.next != nil {
		return 0, ErrReconfigInProgress
	}
	set, err := newQuorumSet(next)
	if err != nil {
		return 0, err
	}
	zxid, err := z.NextZxid()
	if err != nil {
		return 0, err
	}
	z.next = &pendingReconfig{zxid: zxid, set: set}
	if _, err := z.propose(data); err != nil {
		z.next = nil
		return 0, err
	}
	return zxid, nil
}

// activate makes the pending membership the current one once its entry
// committed. It reports whether this server stays a voter.
func (z *Zab) activate() bool {
	z.members, z.next = z.next.set, nil
	z.logger.Debug("zab: new membership", "id", z.id, "voters", sortedKeys(z.members.voters), "observers", sortedKeys(z.members.observers))
	return z.members.voters[z.id]
}
