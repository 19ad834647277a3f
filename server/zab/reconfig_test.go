package zab

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// Adding voters: the reconfig entry and everything after it need a quorum
// of both memberships until it commits; then only the new one counts.
func TestReconfigNeedsBothQuorums(t *testing.T) {
	c := newManual(t, 5, 0)
	c.voters = []int64{1, 2, 3} // 4 and 5 follow without a vote, as joiners do
	c.reign(1, 2, 3, 4, 5)
	c.run()
	c.mustServe(1, 2, 3, 4, 5)
	c.write(1, "a")
	c.run()
	c.mustApply(4, "a")

	leader := c.nodes[1].z
	next := Membership{Voters: []int64{1, 2, 3, 4, 5}}
	if !leader.QuorumSynced(next) {
		t.Fatal("QuorumSynced: the joiners are synced, the new membership has a quorum")
	}
	if leader.QuorumSynced(Membership{Voters: []int64{1, 6, 7}}) {
		t.Fatal("QuorumSynced: 6 and 7 never connected")
	}
	_, err := leader.ProposeReconfig([]byte("reconfig"), next)
	if err != nil {
		t.Fatal(err)
	}
	c.process(c.nodes[1])
	if _, err := leader.ProposeReconfig([]byte("again"), next); !errors.Is(err, ErrReconfigInProgress) {
		t.Fatalf("second reconfig while one is pending: %v, want ErrReconfigInProgress", err)
	}
	// The new voters alone (1, 4, 5: a quorum of the new five) are not
	// enough: the old membership has only the leader.
	for _, id := range []int64{4, 5} {
		c.runLink(1, id)
		c.runLink(id, 1)
	}
	c.mustApply(1, "a")
	// Follower 2 completes the old quorum: it commits, and the
	// membership switches.
	c.runLink(1, 2)
	c.runLink(2, 1)
	c.mustApply(1, "a", "reconfig")
	if got := leader.Membership().Voters; !slices.Equal(got, next.Voters) {
		t.Fatalf("membership after commit %v, want %v", got, next.Voters)
	}
	if leader.ReconfigPending() {
		t.Fatal("reconfig still pending after its commit")
	}
	c.run()
	for _, id := range []int64{2, 3, 4, 5} {
		c.mustApply(id, "a", "reconfig")
	}
	// Now 1, 4 and 5 are a quorum by themselves.
	c.write(1, "b")
	for _, id := range []int64{4, 5} {
		c.runLink(1, id)
		c.runLink(id, 1)
	}
	c.mustApply(1, "a", "reconfig", "b")
}

// A leader that reconfigures itself out commits the change and steps
// down; the new voters elect a leader among themselves and finish it.
func TestReconfigRemovingTheLeader(t *testing.T) {
	c := newManual(t, 3, 0)
	c.reign(1, 2, 3)
	c.run()
	c.write(1, "a")
	zxid, err := c.nodes[1].z.ProposeReconfig([]byte("reconfig"), Membership{Voters: []int64{2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	c.process(c.nodes[1])
	c.run()
	c.mustApply(1, "a", "reconfig")
	if err := c.lastErr(1); !errors.Is(err, ErrRemoved) {
		t.Fatalf("leader stopped with %v, want ErrRemoved", err)
	}
	// Both new voters logged everything: the lowest id succeeds. The old
	// leader knows; a follower learns it if the COMMIT left in time.
	if d := c.designated[1]; d != 2 {
		t.Errorf("the old leader designated %d, want 2", d)
	}
	for _, id := range []int64{2, 3} {
		if d, ok := c.designated[id]; ok && d != 2 {
			t.Errorf("server %d was told its next leader is %d, want 2", id, d)
		}
	}
	// The COMMIT may or may not have left before the leader's
	// connections closed; either way the next leader's history holds
	// the reconfig, and establishing commits it.
	for _, id := range []int64{2, 3} {
		n := c.nodes[id]
		n.z = nil
		role := Follower
		if id == 2 {
			role = Leader
		}
		cfg := Config{ID: id, Voters: []int64{2, 3}, Leader: 2, Role: role,
			InitLimitTicks: simInitLimit, SyncLimitTicks: simSyncLimit, Storage: n.st, Applied: n.appliedZxid()}
		if n.appliedZxid() < zxid {
			cfg.Voters, cfg.Pending = []int64{1, 2, 3}, &Reconfig{Zxid: zxid, Next: Membership{Voters: []int64{2, 3}}}
		}
		z, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.z = z
		c.process(n)
	}
	c.run()
	c.mustServe(2, 3)
	c.mustApply(2, "a", "reconfig")
	c.mustApply(3, "a", "reconfig")
}

// A new leader whose history ends in an uncommitted reconfig needs both
// memberships' quorums to establish, and then switches.
func TestReconfigPendingAtElection(t *testing.T) {
	c := newManual(t, 5, 0)
	c.voters = []int64{1, 2, 3}
	c.reign(1, 2, 3, 4, 5)
	c.run()
	c.write(1, "a")
	c.run()
	next := Membership{Voters: []int64{3, 4, 5}}
	zxid, err := c.nodes[1].z.ProposeReconfig([]byte("reconfig"), next)
	if err != nil {
		t.Fatal(err)
	}
	c.process(c.nodes[1])
	// Everybody logs it, nobody hears a commit: the leader dies.
	for _, id := range []int64{2, 3, 4, 5} {
		c.runLink(1, id)
	}
	c.crash(c.nodes[1])
	n := c.nodes[3]
	z, err := New(Config{ID: 3, Voters: []int64{1, 2, 3}, Leader: 3, Role: Leader,
		Pending:        &Reconfig{Zxid: zxid, Next: next},
		InitLimitTicks: simInitLimit, SyncLimitTicks: simSyncLimit, Storage: n.st, Applied: n.appliedZxid()})
	if err != nil {
		t.Fatal(err)
	}
	n.z = z
	c.process(n)
	// Old voter 2 alone completes the old quorum but not the new one.
	c.start(c.nodes[2], 3)
	c.run()
	if z.Status().Active {
		t.Fatal("established without a quorum of the pending membership")
	}
	c.start(c.nodes[4], 3)
	c.run()
	if !z.Status().Active {
		t.Fatal("not established with quorums of both memberships")
	}
	if got := z.Membership().Voters; !slices.Equal(got, next.Voters) {
		t.Fatalf("membership %v after establishing, want %v", got, next.Voters)
	}
}

// The commit of a reconfig goes as upstream's: COMMITANDACTIVATE to the
// followers, its data the id of the leader to follow next (the leader
// itself when it stays), and INFORMANDACTIVATE to the observers, that id
// followed by the txn. Every learner applies it and goes on.
func TestReconfigActivatePackets(t *testing.T) {
	c := newManual(t, 3, 1) // server 4 observes
	c.reign(1, 2, 3, 4)
	c.run()
	c.mustServe(1, 2, 3, 4)
	// The same members (a change of addresses, say): 1 and 2 commit it.
	next := Membership{Voters: []int64{1, 2, 3}, Observers: []int64{4}}
	zxid, err := c.nodes[1].z.ProposeReconfig([]byte("reconfig"), next)
	if err != nil {
		t.Fatal(err)
	}
	c.process(c.nodes[1])
	c.runLink(1, 2)
	c.runLink(2, 1)
	want := func(to int64, typ int32, data []byte) {
		t.Helper()
		q := c.links[linkKey{1, to}]
		if len(q) == 0 {
			t.Fatalf("nothing queued for %d", to)
		}
		m := q[len(q)-1].m
		if m.Packet.Type != typ || m.Packet.Zxid != zxid || string(m.Packet.Data) != string(data) {
			t.Fatalf("last packet to %d: %s %s data %q, want %s %s data %q", to, TypeName(m.Packet.Type), FormatZxid(m.Packet.Zxid), m.Packet.Data,
				TypeName(typ), FormatZxid(zxid), data)
		}
	}
	stays := binary.BigEndian.AppendUint64(nil, 1)
	want(3, TypeCommitAndActivate, stays)
	want(4, TypeInformAndActivate, append(stays, "reconfig"...))
	c.run()
	for _, id := range []int64{1, 2, 3, 4} {
		c.mustApply(id, "reconfig")
		if err := c.lastErr(id); err != nil {
			t.Errorf("server %d stopped: %v", id, err)
		}
		if d, ok := c.designated[id]; ok {
			t.Errorf("server %d was told to follow %d next; its leader stays", id, d)
		}
	}
}

// A learner told by COMMITANDACTIVATE (INFORMANDACTIVATE on an observer)
// that another server leads next applies the reconfig, reports the
// successor and stops, as upstream's learner leaves its leader then.
func TestReconfigActivateNamesSuccessor(t *testing.T) {
	for _, observer := range []bool{false, true} {
		role, typ := Follower, int32(TypeCommitAndActivate)
		if observer {
			role, typ = Observer, TypeInformAndActivate
		}
		t.Run(role.String(), func(t *testing.T) {
			cfg := Config{ID: 2, Voters: []int64{1, 3}, Leader: 1, Role: role, InitLimitTicks: 10, SyncLimitTicks: 5}
			if !observer {
				cfg.Voters = []int64{1, 2, 3}
			} else {
				cfg.Observers = []int64{2}
			}
			l := newLone(t, cfg)
			step := l.step
			step(TypeLeaderInfo, Zxid(1, 0), putInt32(ProtocolVersion))
			step(TypeDiff, 0, nil)
			step(TypeNewLeader, Zxid(1, 0), nil)
			step(TypeUpToDate, -1, nil)
			r := Zxid(1, 1)
			successor := binary.BigEndian.AppendUint64(nil, 3)
			if observer {
				step(typ, r, append(successor, "reconfig"...))
			} else {
				step(TypeProposal, r, []byte("reconfig"))
				step(typ, r, successor)
			}
			if !slices.Equal(l.applied, []string{"reconfig"}) || l.designated != 3 || !errors.Is(l.lost, ErrSucceeded) {
				t.Fatalf("after %s naming 3: applied %q, designated %d, stopped with %v; want the reconfig applied, 3, ErrSucceeded",
					TypeName(typ), l.applied, l.designated, l.lost)
			}
		})
	}
}

// lone is a learner machine driven by hand: packets from leader 1 go in,
// and its driver persists, applies and notes what each Ready says.
type lone struct {
	t          *testing.T
	z          *Zab
	st         *MemoryStorage
	applied    []string
	designated int64
	lost       error
	// membershipAt is when Ready.LeaderMembership came: "active" if with
	// the RoleChange that makes the learner serve, else the packet's name.
	membership, membershipAt string
}

func newLone(t *testing.T, cfg Config) *lone {
	t.Helper()
	l := &lone{t: t, st: NewMemoryStorage()}
	cfg.Storage = l.st
	z, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l.z = z
	return l
}

func (l *lone) step(typ int32, zxid int64, data []byte) {
	l.t.Helper()
	z := l.z
	if err := z.Step(Message{From: 1, To: z.id, Packet: proto.QuorumPacket{Type: typ, Zxid: zxid, Data: data}}); err != nil {
		l.t.Fatalf("%s: %v", TypeName(typ), err)
	}
	for z.HasReady() {
		rd := z.Ready()
		if err := l.st.Append(rd.Persist); err != nil {
			l.t.Fatal(err)
		}
		if rd.Epochs != nil {
			l.st.SetEpochs(*rd.Epochs)
		}
		for _, e := range rd.Commit {
			l.applied = append(l.applied, string(e.Data))
		}
		if rd.Designated != 0 {
			l.designated = rd.Designated
		}
		if rd.LeaderMembership != nil {
			l.membership, l.membershipAt = string(rd.LeaderMembership), TypeName(typ)
			if rd.RoleChange != nil && rd.RoleChange.Active {
				l.membershipAt = "active"
			}
		}
		if rd.RoleChange != nil && rd.RoleChange.Lost {
			l.lost = rd.RoleChange.Err
		}
		z.Advance(rd)
	}
}

// The configuration NEWLEADER carries takes effect, as upstream's learner
// has it, once the leader is established: with UPTODATE, when the learner
// starts serving.
func TestLeaderMembershipAtUpToDate(t *testing.T) {
	l := newLone(t, Config{ID: 2, Voters: []int64{1, 2, 3}, Leader: 1, Role: Follower, InitLimitTicks: 10, SyncLimitTicks: 5})
	l.step(TypeLeaderInfo, Zxid(1, 0), putInt32(ProtocolVersion))
	l.step(TypeDiff, 0, nil)
	l.step(TypeNewLeader, Zxid(1, 0), []byte("the leader's"))
	if l.membership != "" {
		t.Fatalf("the leader's membership handed over at %s, before UPTODATE", l.membershipAt)
	}
	l.step(TypeUpToDate, -1, nil)
	if l.membership != "the leader's" || l.membershipAt != "active" {
		t.Fatalf("the leader's membership %q handed over at %q, want with the start of serving", l.membership, l.membershipAt)
	}
}

// A new leader syncs its whole history as committed, PROPOSAL and COMMIT
// pairs before NEWLEADER, as upstream's leader does (its history is the
// epoch's initial one, committed once a quorum acks NEWLEADER), and sends
// no COMMIT between NEWLEADER and UPTODATE: upstream's 3.8 learner takes
// such a COMMIT for the head of the proposals it received after NEWLEADER
// (none), fails (ZOOKEEPER-4394) and leaves. Here the history ends in a
// reconfig the old leader did not commit.
func TestNewLeaderSyncsItsHistoryCommitted(t *testing.T) {
	c := newManual(t, 3, 1) // server 4 observes
	c.reign(1, 2, 3, 4)
	c.run()
	c.write(1, "a")
	c.run()
	next := Membership{Voters: []int64{2, 3}, Observers: []int64{4}}
	zxid, err := c.nodes[1].z.ProposeReconfig([]byte("reconfig"), next)
	if err != nil {
		t.Fatal(err)
	}
	c.process(c.nodes[1])
	c.runLink(1, 3) // 3 logs it; nobody commits it
	c.crash(c.nodes[1])
	n := c.nodes[3]
	z, err := New(Config{ID: 3, Voters: []int64{1, 2, 3}, Observers: []int64{4}, Leader: 3, Role: Leader,
		Pending:        &Reconfig{Zxid: zxid, Next: next},
		InitLimitTicks: simInitLimit, SyncLimitTicks: simSyncLimit, Storage: n.st, Applied: n.appliedZxid()})
	if err != nil {
		t.Fatal(err)
	}
	n.z = z
	c.process(n)
	c.sentTo = map[linkKey][]int32{}
	c.start(c.nodes[2], 3)
	c.start(c.nodes[4], 3)
	c.run()
	c.mustServe(2, 3, 4)
	for _, id := range []int64{2, 4} {
		sent := c.sentOn(3, id)
		nl, up := slices.Index(sent, "NEWLEADER"), slices.Index(sent, "UPTODATE")
		if nl < 0 || up < nl {
			t.Fatalf("leader 3 sent %d %v", id, sent)
		}
		if slices.Contains(sent[nl:up], "COMMIT") || slices.Contains(sent[nl:up], "INFORM") {
			t.Errorf("leader 3 sent %d a commit between NEWLEADER and UPTODATE: %v", id, sent)
		}
		if got := sent[:nl]; !slices.Equal(got[len(got)-2:], []string{"PROPOSAL", "COMMIT"}) {
			t.Errorf("leader 3 synced %d with %v before NEWLEADER, want its history ending in a PROPOSAL and COMMIT pair", id, got)
		}
		c.mustApply(id, "a", "reconfig")
	}
}
