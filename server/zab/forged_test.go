package zab

import (
	"errors"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// establishedLeader returns leader 1 of voters {1, 2, 3} and observer 4,
// established with follower 2 synced.
func establishedLeader(t *testing.T) (*Zab, *MemoryStorage) {
	t.Helper()
	st := NewMemoryStorage()
	z, err := New(Config{ID: 1, Voters: []int64{1, 2, 3}, Observers: []int64{4}, Leader: 1, Role: Leader,
		InitLimitTicks: 10, SyncLimitTicks: 5, Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	drain(z, st)
	for _, p := range []proto.QuorumPacket{
		{Type: TypeFollowerInfo, Zxid: 0, Data: learnerInfo(2)},
		{Type: TypeAckEpoch, Zxid: 0, Data: putInt32(0)},
		{Type: TypeAck, Zxid: Zxid(1, 0)},
	} {
		if err := z.Step(Message{From: 2, To: 1, Packet: p}); err != nil {
			t.Fatal(err)
		}
		drain(z, st)
	}
	if s := z.Status(); !s.Active || s.SyncedFollowers != 1 {
		t.Fatalf("leader not established with follower 2: %+v", s)
	}
	return z, st
}

// mustNotStop fails if z stopped or dropped follower 2.
func mustNotStop(t *testing.T, z *Zab, st *MemoryStorage, what string) {
	t.Helper()
	_, rcs := drain(z, st)
	for _, rc := range rcs {
		if rc.Lost {
			t.Fatalf("%s: leader stepped down: %v", what, rc.Err)
		}
	}
	if s := z.Status(); s.Stopped || !s.Active || s.SyncedFollowers != 1 {
		t.Fatalf("%s: leader status %+v, want active with follower 2 synced", what, s)
	}
}

// FOLLOWERINFO with a later accepted epoch from a server that is not a
// voter here (unknown, or an observer) is refused; it never makes the
// leader step down as a voter's would.
func TestLearnerInfoFromNonVoterCannotStopLeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		from int64
		typ  int32
	}{
		{"unknown sid as follower", 9, TypeFollowerInfo},
		{"unknown sid as observer", 9, TypeObserverInfo},
		{"observer as follower", 4, TypeFollowerInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z, st := establishedLeader(t)
			err := z.Step(Message{From: tc.from, To: 1, Packet: proto.QuorumPacket{Type: tc.typ, Zxid: Zxid(1000, 0), Data: learnerInfo(tc.from)}})
			mustNotStop(t, z, st, tc.name)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("Step = %v, want ErrRefused", err)
			}
		})
	}
	// A server in no membership with an epoch this leader can give it (one
	// a reconfig is about to add) still follows, uncounted.
	z, st := establishedLeader(t)
	if err := z.Step(Message{From: 9, To: 1, Packet: proto.QuorumPacket{Type: TypeFollowerInfo, Zxid: Zxid(1, 0), Data: learnerInfo(9)}}); err != nil {
		t.Fatalf("joiner's FOLLOWERINFO: %v", err)
	}
	if sent, _ := drain(z, st); len(sent) != 1 || sent[0].To != 9 || sent[0].Packet.Type != TypeLeaderInfo {
		t.Fatalf("sent %v, want LEADERINFO to joiner 9", sent)
	}
}
