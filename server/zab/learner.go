package zab

import (
	"encoding/binary"
	"fmt"
)

// learner phases (Learner.syncWithLeader upstream).
type fphase int

const (
	fpInfo      fphase = iota // FOLLOWERINFO/OBSERVERINFO sent
	fpEpoch                   // ACKEPOCH sent
	fpSync                    // DIFF/TRUNC/SNAP received; history arriving
	fpNewLeader               // NEWLEADER acked
	fpUpToDate                // serving
)

type learnerState struct {
	phase     fphase
	epoch     int64 // the leader's epoch, from LEADERINFO
	target    int64 // highest zxid known committed
	syncBase  int64 // the zxid of DIFF, TRUNC or SNAP
	lastHeard int
	syncs     [][]byte // tokens of the syncs sent, oldest first
	acks      []pendingAck
	// membership is NEWLEADER's data, handed to the driver at UPTODATE.
	membership []byte
}

// pendingAck is an ACK that waits for the log to be durable up to needs.
type pendingAck struct {
	needs, zxid int64
}

// ackWhenDurable sends an ACK of zxid once the log is durable up to needs
// (Persisted), in the order the ACKs were asked for.
func (z *Zab) ackWhenDurable(needs, zxid int64) {
	z.f.acks = append(z.f.acks, pendingAck{needs: needs, zxid: zxid})
	z.flushAcks()
}

// flushAcks sends the ACKs whose entries are durable now.
func (z *Zab) flushAcks() {
	f := z.f
	n := 0
	for n < len(f.acks) && f.acks[n].needs <= z.durable {
		z.send(z.leader, TypeAck, f.acks[n].zxid, nil)
		n++
	}
	if n == len(f.acks) {
		f.acks = f.acks[:0]
	} else if n > 0 {
		f.acks = append(f.acks[:0], f.acks[n:]...)
	}
}

func (z *Zab) startLearner() {
	z.f = &learnerState{}
	typ := int32(TypeFollowerInfo)
	if z.role == Observer {
		typ = TypeObserverInfo
	}
	z.send(z.leader, typ, Zxid(z.accepted, 0), learnerInfo(z.id))
}

func (z *Zab) protocolError(m Message, format string, args ...any) {
	z.stop(fmt.Errorf("zab: %s from leader %d: %s: %w", TypeName(m.Packet.Type), m.From, fmt.Sprintf(format, args...), ErrProtocol))
}

func (z *Zab) stepLearner(m Message) {
	if m.From != z.leader {
		z.logger.Debug("zab: learner: message from a server that is not the leader", "id", z.id, "msg", m.String())
		return
	}
	f := z.f
	p := m.Packet
	if f.phase == fpInfo && p.Type != TypeLeaderInfo {
		// Left over from an earlier connection to this leader.
		return
	}
	switch p.Type {
	case TypeLeaderInfo, TypeDiff, TypeTrunc, TypeSnap, TypeProposal, TypeNewLeader, TypeCommit,
		TypeInform, TypeUpToDate, TypePing, TypeSync:
		f.lastHeard = z.tick
	}
	switch p.Type {
	case TypeLeaderInfo:
		if f.phase != fpInfo {
			z.protocolError(m, "in phase %d", f.phase)
			return
		}
		e := EpochOf(p.Zxid)
		cur := int32(z.current)
		switch {
		case e < z.accepted:
			z.stop(fmt.Errorf("zab: leader %d offers epoch %d, accepted %d: %w", m.From, e, z.accepted, ErrEpochBehind))
			return
		case e == z.accepted:
			// This epoch was acked already (a reconnect): say so, so
			// the leader does not count it twice in discovery.
			cur = -1
		default:
			z.setEpochs(e, z.current)
		}
		f.epoch = e
		f.phase = fpEpoch
		z.logger.Debug("zab: learner: LEADERINFO: epoch known", "id", z.id, "leader", z.leader, "packet", p.Type, "zxid", FormatZxid(p.Zxid))
		z.send(z.leader, TypeAckEpoch, z.log.lastZxid(), putInt32(cur))
	case TypeDiff, TypeTrunc, TypeSnap:
		if f.phase != fpEpoch {
			z.protocolError(m, "in phase %d", f.phase)
			return
		}
		f.phase = fpSync
		f.syncBase = p.Zxid
		z.logger.Debug("zab: learner: sync started", "id", z.id, "leader", z.leader, "packet", p.Type, "zxid", FormatZxid(p.Zxid))
		switch p.Type {
		case TypeTrunc:
			if err := z.log.truncate(p.Zxid); err != nil {
				z.stop(fmt.Errorf("zab: TRUNC to %s: %w", FormatZxid(p.Zxid), err))
				return
			}
			z.durable = min(z.durable, p.Zxid)
			if z.applied > p.Zxid {
				// Only a driver that applied uncommitted entries at
				// start gets here; Ready.Truncate tells it to rebuild.
				z.applied = p.Zxid
			}
		case TypeSnap:
			z.log.installSnapshot(p.Zxid)
			z.durable = p.Zxid // the driver installs it durably before it sends anything
			z.pendingSnap = &Snapshot{Zxid: p.Zxid, Data: p.Data}
			z.applied = p.Zxid
			f.target = max(f.target, p.Zxid)
		}
	case TypeProposal:
		switch f.phase {
		case fpSync:
			if err := z.log.append(Entry{Zxid: p.Zxid, Data: p.Data}); err != nil {
				z.protocolError(m, "history: %v", err)
			}
		case fpNewLeader, fpUpToDate:
			if z.role == Observer {
				z.protocolError(m, "observers get INFORM")
				return
			}
			if last := z.log.lastZxid(); !follows(last, p.Zxid, f.epoch) {
				z.protocolError(m, "%s does not follow %s in epoch %d", FormatZxid(p.Zxid), FormatZxid(last), f.epoch)
				return
			}
			_ = z.log.append(Entry{Zxid: p.Zxid, Data: p.Data})
			// Sent once the entry is durable (Persisted): an ACK
			// vouches for this entry and every one before it.
			z.ackWhenDurable(p.Zxid, p.Zxid)
		default:
			z.protocolError(m, "in phase %d", f.phase)
		}
	case TypeNewLeader:
		if f.phase != fpSync || EpochOf(p.Zxid) != f.epoch {
			z.protocolError(m, "in phase %d for epoch %d", f.phase, f.epoch)
			return
		}
		z.setEpochs(z.accepted, f.epoch)
		f.phase = fpNewLeader
		z.logger.Debug("zab: learner: NEWLEADER", "id", z.id, "leader", z.leader, "packet", p.Type, "zxid", FormatZxid(p.Zxid))
		// As upstream's learner, the leader's configuration takes
		// effect once the leader is established: at UPTODATE.
		if len(p.Data) > 0 {
			f.membership = p.Data
		}
		// The ACK vouches for the whole history synced before it.
		z.ackWhenDurable(z.log.lastZxid(), p.Zxid)
	case TypeCommit, TypeCommitAndActivate:
		// Upstream's leader commits the history it syncs with (PROPOSAL
		// and COMMIT pairs before NEWLEADER, or COMMITs after it); this
		// package's leader sends them after NEWLEADER, before UPTODATE.
		// Observers get INFORM once serving.
		if f.phase < fpSync || z.role == Observer && f.phase == fpUpToDate {
			z.protocolError(m, "in phase %d", f.phase)
			return
		}
		if p.Zxid > z.log.lastZxid() {
			z.protocolError(m, "commit of %s past the log's end %s", FormatZxid(p.Zxid), FormatZxid(z.log.lastZxid()))
			return
		}
		f.target = max(f.target, p.Zxid)
		z.applyCommitted()
		if p.Type == TypeCommitAndActivate {
			z.activated(m, p.Data)
		}
	case TypeInform, TypeInformAndActivate:
		if f.phase < fpSync || z.role != Observer {
			z.protocolError(m, "in phase %d", f.phase)
			return
		}
		data := p.Data
		if p.Type == TypeInformAndActivate {
			if len(data) < 8 {
				z.protocolError(m, "%d bytes of data, want the next leader's id and the txn", len(data))
				return
			}
			data = data[8:]
		}
		if last := z.log.lastZxid(); p.Zxid > last {
			if !follows(last, p.Zxid, f.epoch) {
				z.protocolError(m, "%s does not follow %s in epoch %d", FormatZxid(p.Zxid), FormatZxid(last), f.epoch)
				return
			}
			_ = z.log.append(Entry{Zxid: p.Zxid, Data: data})
		}
		f.target = max(f.target, p.Zxid)
		z.applyCommitted()
		if p.Type == TypeInformAndActivate {
			z.activated(m, p.Data)
		}
	case TypeUpToDate:
		if f.phase != fpNewLeader {
			z.protocolError(m, "in phase %d", f.phase)
			return
		}
		if p.Zxid > z.log.lastZxid() {
			z.protocolError(m, "commit point %s past the log's end %s", FormatZxid(p.Zxid), FormatZxid(z.log.lastZxid()))
			return
		}
		f.phase = fpUpToDate
		z.logger.Debug("zab: learner: UPTODATE", "id", z.id, "leader", z.leader, "packet", p.Type, "zxid", FormatZxid(p.Zxid))
		if p.Zxid >= 0 {
			f.target = max(f.target, p.Zxid)
		} else {
			// Upstream's UPTODATE carries no commit point (-1): its
			// leader synced from committed history, so the sync's base
			// is committed, as is every zxid it sent a COMMIT for.
			f.target = max(f.target, f.syncBase)
		}
		z.active = true
		z.out.LeaderMembership = f.membership
		z.applyCommitted()
		if !z.stopped {
			z.out.RoleChange = &RoleChange{Role: z.role, Epoch: f.epoch, Active: true}
		}
	case TypePing:
		// As upstream's Learner.ping: the leader's zxid back, and data
		// that is never null (upstream's leader reads session touches
		// from it; the driver sends those in PINGs of its own).
		z.send(z.leader, TypePing, p.Zxid, []byte{})
	case TypeSync:
		if f.phase != fpUpToDate || len(f.syncs) == 0 {
			z.protocolError(m, "no sync pending")
			return
		}
		z.synced(f.syncs[0])
		f.syncs[0] = nil
		f.syncs = f.syncs[1:]
	default:
		z.logger.Debug("zab: learner: unexpected packet", "id", z.id, "msg", m.String())
	}
}

// activated handles the leader's id that COMMITANDACTIVATE and
// INFORMANDACTIVATE carry (data starts with it): when it names another
// server, the reconfig just committed hands the lead to it, and this
// learner, as upstream's, leaves its leader once it applied the reconfig
// (Ready.Designated says whom to follow next).
func (z *Zab) activated(m Message, data []byte) {
	if len(data) < 8 {
		z.protocolError(m, "%d bytes of data, want the next leader's id", len(data))
		return
	}
	next := int64(binary.BigEndian.Uint64(data))
	if next == z.leader || z.stopped {
		return
	}
	z.out.Designated = next
	z.stop(fmt.Errorf("zab: the reconfig at %s makes %d the leader: %w", FormatZxid(m.Packet.Zxid), next, ErrSucceeded))
}

// applyCommitted emits what is known committed, once serving.
func (z *Zab) applyCommitted() {
	if z.f.phase != fpUpToDate {
		return
	}
	if err := z.commitTo(z.f.target); err != nil {
		z.stop(err)
	}
}

func (z *Zab) tickLearner() {
	f := z.f
	limit := z.cfg.SyncLimitTicks
	if f.phase != fpUpToDate {
		limit = z.cfg.InitLimitTicks
	}
	if z.tick-f.lastHeard > limit {
		z.stop(fmt.Errorf("zab: %s: leader %d silent for %d ticks: %w", z.role, z.leader, z.tick-f.lastHeard, ErrLeaderTimeout))
	}
}
