package zab

import (
	"errors"
	"slices"
	"testing"
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
