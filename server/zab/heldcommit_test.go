package zab

import (
	"slices"
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// An established leader syncing a learner while a proposal is in flight
// sends it the PROPOSAL before NEWLEADER; when a quorum commits it before
// the learner acks NEWLEADER, the COMMIT waits for UPTODATE: upstream's
// 3.8 learner takes a COMMIT between NEWLEADER and UPTODATE for the head
// of the proposals it got after NEWLEADER (none here), fails with a
// NullPointerException (ZOOKEEPER-4394) and syncs again, over and over
// under load (a Java follower replacing a Go one took 10 s to serve).
func TestCommitDuringSyncWaitsForUpToDate(t *testing.T) {
	z, st := establishedLeader(t)
	zxid, err := z.Propose([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	drain(z, st)
	var to3 []string
	step := func(from int64, p proto.QuorumPacket) {
		t.Helper()
		if err := z.Step(Message{From: from, To: 1, Packet: p}); err != nil {
			t.Fatalf("%s from %d: %v", TypeName(p.Type), from, err)
		}
		sent, _ := drain(z, st)
		for _, m := range sent {
			if m.To == 3 {
				to3 = append(to3, TypeName(m.Packet.Type))
			}
		}
	}
	step(3, proto.QuorumPacket{Type: TypeFollowerInfo, Data: learnerInfo(3)})
	step(3, proto.QuorumPacket{Type: TypeAckEpoch, Data: putInt32(0)})
	step(2, proto.QuorumPacket{Type: TypeAck, Zxid: zxid}) // committed now
	nl := slices.Index(to3, "NEWLEADER")
	if nl < 0 || !slices.Contains(to3[:nl], "PROPOSAL") {
		t.Fatalf("leader sent 3 %v: want the in-flight PROPOSAL, then NEWLEADER", to3)
	}
	if slices.Contains(to3[nl:], "COMMIT") {
		t.Fatalf("leader sent 3 %v: a COMMIT between NEWLEADER and UPTODATE", to3)
	}
	step(3, proto.QuorumPacket{Type: TypeAck, Zxid: Zxid(1, 0)})
	if got := to3[nl+1:]; !slices.Equal(got, []string{"UPTODATE", "COMMIT"}) {
		t.Fatalf("after NEWLEADER the leader sent 3 %v, want UPTODATE then the held COMMIT", got)
	}
}
