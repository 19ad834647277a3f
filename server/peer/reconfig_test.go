package peer

import (
	"testing"

	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/quorum"
	"github.com/zkbench/zkbench/server/zab"
)

// A leader's NEWLEADER carries the last configuration it has seen, as
// upstream's (getQuorumVerifierBytes): the one a reconfig its history ends
// in proposes, since establishing the epoch commits it and upstream's
// learners, which get that reconfig's commit as a plain COMMIT in the
// sync, activate only what NEWLEADER said; otherwise the one in force,
// versioned with the epoch if it is the initial one (ZOOKEEPER-1783).
func TestLeaderMembershipIsTheLastSeen(t *testing.T) {
	parse := func(text string) quorum.Members {
		t.Helper()
		m, err := quorum.ParseMembers(text)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	initial := parse("server.1=127.0.0.1:2001:3001:participant;127.0.0.1:4001\nserver.2=127.0.0.1:2002:3002:participant;127.0.0.1:4002")
	next := parse("server.1=127.0.0.1:2001:3001:participant;127.0.0.1:4001\nserver.2=127.0.0.1:2002:3002:participant;127.0.0.1:4002\n" +
		"server.3=127.0.0.1:2003:3003:participant;127.0.0.1:4003\nversion=100000005")
	p := &Peer{cfg: &config.Config{ReconfigEnabled: true}, members: initial}
	want := initial
	want.Version = zab.Zxid(2, 0)
	if got := string(p.leaderMembership(2)); got != want.String() {
		t.Fatalf("with no reconfig pending, NEWLEADER carries\n%s\nwant the initial configuration at the epoch's version\n%s", got, want.String())
	}
	p.pending, p.pendingMembers = &zab.Reconfig{Zxid: next.Version, Next: zabMembership(next)}, next
	if got := string(p.leaderMembership(2)); got != next.String() {
		t.Fatalf("with a reconfig pending, NEWLEADER carries\n%s\nwant the one it proposes\n%s", got, next.String())
	}
	// Once it is in force (the reign committed it), it is simply the one
	// in force.
	p.members = next
	if got := string(p.leaderMembership(3)); got != next.String() {
		t.Fatalf("after the reconfig took effect, NEWLEADER carries\n%s\nwant\n%s", got, next.String())
	}
}
