package election

import (
	"math/rand"
	"testing"
)

func TestVoteBetter(t *testing.T) {
	for _, tc := range []struct {
		a, b Vote
		want bool
	}{
		{Vote{Leader: 1, Zxid: 5, PeerEpoch: 2}, Vote{Leader: 3, Zxid: 9, PeerEpoch: 1}, true}, // epoch first
		{Vote{Leader: 1, Zxid: 9, PeerEpoch: 1}, Vote{Leader: 3, Zxid: 5, PeerEpoch: 1}, true}, // then zxid
		{Vote{Leader: 3, Zxid: 5, PeerEpoch: 1}, Vote{Leader: 1, Zxid: 5, PeerEpoch: 1}, true}, // then id
		{Vote{Leader: 1, Zxid: 5, PeerEpoch: 1}, Vote{Leader: 1, Zxid: 5, PeerEpoch: 1}, false},
		{Vote{Leader: 3, Zxid: 5, PeerEpoch: 1, ElectionEpoch: 1}, Vote{Leader: 3, Zxid: 5, PeerEpoch: 1, ElectionEpoch: 9}, false},
		{Vote{Leader: 1, Zxid: 0, PeerEpoch: 0}, Vote{Leader: NoVote, Zxid: NoVote, PeerEpoch: NoVote}, true},
	} {
		if got := tc.a.Better(tc.b); got != tc.want {
			t.Errorf("%v.Better(%v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if tc.want && tc.b.Better(tc.a) {
			t.Errorf("order not antisymmetric for %v, %v", tc.a, tc.b)
		}
	}
}

// harness drives one Election by hand.
type harness struct {
	t *testing.T
	e *Election
}

func newHarness(t *testing.T, id int64, voters, observers []int64, zxid, epoch int64, finalize int) *harness {
	e := New(Config{ID: id, Voters: voters, Observers: observers, TickMs: 10,
		FinalizeWaitTicks: finalize, MaxNotifyIntervalTicks: 8, Rand: rand.New(rand.NewSource(1))}, zxid, epoch)
	return &harness{t: t, e: e}
}

func (h *harness) take() Ready {
	rd := h.e.Ready()
	h.e.Advance()
	return rd
}

func (h *harness) looking(from int64, round int64, leader, zxid, epoch int64) Ready {
	h.e.Step(Notification{From: from, To: h.e.cfg.ID, State: Looking, Version: 2,
		Vote: Vote{Leader: leader, Zxid: zxid, ElectionEpoch: round, PeerEpoch: epoch}})
	return h.take()
}

func (h *harness) notify(from int64, state State, round int64, leader, zxid, epoch int64) Ready {
	h.e.Step(Notification{From: from, To: h.e.cfg.ID, State: state, Version: 2,
		Vote: Vote{Leader: leader, Zxid: zxid, ElectionEpoch: round, PeerEpoch: epoch}})
	return h.take()
}

func TestStartBroadcastsSelfVote(t *testing.T) {
	h := newHarness(t, 2, []int64{1, 2, 3}, []int64{4}, 0x100000007, 1, 3)
	h.e.Start()
	rd := h.take()
	if len(rd.Messages) != 2 || rd.Decided != nil {
		t.Fatalf("Start: %+v, want 2 messages (to voters 1 and 3) and no decision", rd)
	}
	for i, to := range []int64{1, 3} {
		m := rd.Messages[i]
		want := Notification{From: 2, To: to, State: Looking, Version: NotificationVersion,
			Vote: Vote{Leader: 2, Zxid: 0x100000007, ElectionEpoch: 1, PeerEpoch: 1}}
		if m != want {
			t.Errorf("message %d = %+v, want %+v", i, m, want)
		}
	}
}

func TestAllVotersAgreeDecidesAtOnce(t *testing.T) {
	h := newHarness(t, 1, []int64{1, 2, 3}, nil, 5, 1, 3)
	h.e.Start()
	h.take()
	rd := h.looking(2, 1, 3, 9, 1) // better: adopt and re-broadcast
	if len(rd.Messages) != 2 || rd.Messages[0].Vote.Leader != 3 || rd.Decided != nil {
		t.Fatalf("after better vote: %+v", rd)
	}
	// Now 1 and 2 agree on 3: a quorum, so the finalize wait starts.
	rd = h.looking(3, 1, 3, 9, 1) // and 3 itself: all three agree
	if rd.Decided == nil || rd.Decided.State != Following || rd.Decided.Leader != 3 {
		t.Fatalf("every voter agreed, want an immediate decision to follow 3, got %+v", rd.Decided)
	}
	if rd.Decided.Vote != (Vote{Leader: 3, Zxid: 9, ElectionEpoch: 1, PeerEpoch: 1}) {
		t.Errorf("decided vote %v", rd.Decided.Vote)
	}
}

func TestQuorumWaitsFinalize(t *testing.T) {
	h := newHarness(t, 3, []int64{1, 2, 3, 4, 5}, nil, 9, 1, 3)
	h.e.Start()
	h.take()
	h.looking(1, 1, 3, 9, 1)
	if rd := h.looking(2, 1, 3, 9, 1); rd.Decided != nil {
		t.Fatalf("decided on a quorum without waiting: %+v", rd.Decided)
	}
	h.e.Tick()
	h.e.Tick()
	if rd := h.take(); rd.Decided != nil {
		t.Fatalf("decided after 2 of 3 finalize ticks")
	}
	h.e.Tick()
	rd := h.take()
	if rd.Decided == nil || rd.Decided.State != Leading || rd.Decided.Leader != 3 {
		t.Fatalf("after the finalize wait want LEADING, got %+v", rd.Decided)
	}
	if h.e.State() != Leading {
		t.Errorf("State() = %v", h.e.State())
	}
}

func TestBetterVoteCancelsFinalize(t *testing.T) {
	h := newHarness(t, 3, []int64{1, 2, 3, 4, 5}, nil, 9, 1, 3)
	h.e.Start()
	h.take()
	h.looking(1, 1, 3, 9, 1)
	h.looking(2, 1, 3, 9, 1)
	h.e.Tick()
	h.take()
	rd := h.looking(5, 1, 5, 9, 1) // 5 beats 3 (same epoch and zxid, higher id)
	if rd.Decided != nil || len(rd.Messages) != 4 || rd.Messages[0].Vote.Leader != 5 {
		t.Fatalf("better vote: %+v", rd)
	}
	for range 10 {
		h.e.Tick()
		if rd := h.take(); rd.Decided != nil {
			t.Fatalf("decided %+v with only 3 and 5 voting for 5", rd.Decided)
		}
	}
}

func TestHigherRoundResetsVotes(t *testing.T) {
	h := newHarness(t, 1, []int64{1, 2, 3}, nil, 20, 1, 3)
	h.e.Start()
	h.take()
	rd := h.looking(2, 7, 2, 10, 1) // worse vote but a later round
	if h.e.LogicalClock() != 7 {
		t.Fatalf("clock %d, want 7", h.e.LogicalClock())
	}
	if len(rd.Messages) != 2 || rd.Messages[0].Vote != (Vote{Leader: 1, Zxid: 20, ElectionEpoch: 7, PeerEpoch: 1}) {
		t.Fatalf("want own vote re-sent in round 7, got %+v", rd.Messages)
	}
	// A vote for 1 from round 1 no longer counts.
	if rd := h.looking(3, 1, 1, 20, 1); rd.Decided != nil {
		t.Fatalf("stale-round vote decided: %+v", rd.Decided)
	}
	if rd := h.looking(3, 7, 1, 20, 1); rd.Decided != nil {
		t.Fatalf("2 of 3 decided without the finalize wait: %+v", rd.Decided)
	}
	for range 3 {
		h.e.Tick()
	}
	rd = h.take()
	if rd.Decided == nil || rd.Decided.State != Leading || rd.Decided.Vote.ElectionEpoch != 7 {
		t.Fatalf("quorum in round 7 (1 and 3) should decide after the wait; got %+v", rd.Decided)
	}
}

func TestLowerRoundIsAnsweredNotCounted(t *testing.T) {
	h := newHarness(t, 1, []int64{1, 2, 3}, nil, 20, 1, 3)
	h.e.Start()
	h.take()
	h.looking(2, 5, 1, 20, 1) // jump to round 5
	rd := h.looking(3, 2, 3, 99, 1)
	if len(rd.Messages) != 1 || rd.Messages[0].To != 3 || rd.Messages[0].Vote.ElectionEpoch != 5 {
		t.Fatalf("want a reply to 3 in round 5, got %+v", rd.Messages)
	}
	if h.e.Vote().Leader != 1 {
		t.Fatalf("adopted a vote from an old round: %v", h.e.Vote())
	}
}

func TestObserverLearnsAndIsNotCounted(t *testing.T) {
	// A voter answers an observer but never counts it.
	v := newHarness(t, 1, []int64{1, 2, 3}, []int64{9}, 20, 1, 0)
	v.e.Start()
	v.take()
	rd := v.looking(9, 1, 1, 20, 1) // an observer "voting" for 1
	if rd.Decided != nil {
		t.Fatalf("observer's vote counted: %+v", rd.Decided)
	}
	if len(rd.Messages) != 1 || rd.Messages[0].To != 9 {
		t.Fatalf("want a reply to the observer, got %+v", rd.Messages)
	}
	if rd := v.notify(9, Observing, 1, 3, 20, 1); len(rd.Messages) != 0 {
		t.Fatalf("answered an observer that is not looking (reply storm): %+v", rd.Messages)
	}

	// The observer adopts the voters' vote and ends OBSERVING.
	o := newHarness(t, 9, []int64{1, 2, 3}, []int64{9}, 0, 0, 2)
	o.e.Start()
	if rd := o.take(); len(rd.Messages) != 3 || rd.Messages[0].Vote.Leader != NoVote {
		t.Fatalf("observer start: %+v", rd.Messages)
	}
	o.looking(1, 1, 3, 30, 1)
	if rd := o.looking(2, 1, 3, 30, 1); rd.Decided != nil {
		t.Fatalf("observer decided before the finalize wait: %+v", rd.Decided)
	}
	o.e.Tick()
	o.e.Tick()
	rd = o.take()
	if rd.Decided == nil || rd.Decided.State != Observing || rd.Decided.Leader != 3 {
		t.Fatalf("observer decision %+v", rd.Decided)
	}
}

func TestJoinEstablishedLeader(t *testing.T) {
	h := newHarness(t, 4, []int64{1, 2, 3, 4, 5}, nil, 50, 2, 3)
	h.e.Start()
	h.take()
	// Followers of 5 (round 3) answer; not enough without the leader's word.
	h.notify(1, Following, 3, 5, 40, 2)
	h.notify(2, Following, 3, 5, 40, 2)
	if rd := h.notify(3, Following, 3, 5, 40, 2); rd.Decided != nil {
		t.Fatalf("joined without hearing from the leader: %+v", rd.Decided)
	}
	rd := h.notify(5, Leading, 3, 5, 40, 2)
	if rd.Decided == nil || rd.Decided.State != Following || rd.Decided.Leader != 5 {
		t.Fatalf("want to follow 5, got %+v", rd.Decided)
	}
	if h.e.LogicalClock() != 3 {
		t.Errorf("clock %d, want the leader's round 3", h.e.LogicalClock())
	}
	// Out of election, a LOOKING peer is told the leader.
	rd = h.looking(1, 1, 1, 10, 1)
	if len(rd.Messages) != 1 || rd.Messages[0].State != Following || rd.Messages[0].Vote.Leader != 5 {
		t.Fatalf("reply while following: %+v", rd.Messages)
	}
	// But FOLLOWING chatter gets no answer.
	if rd := h.notify(2, Following, 3, 5, 40, 2); len(rd.Messages) != 0 {
		t.Fatalf("answered a non-LOOKING peer: %+v", rd.Messages)
	}
}

func TestJoinNeedsQuorum(t *testing.T) {
	h := newHarness(t, 4, []int64{1, 2, 3, 4, 5}, nil, 50, 2, 3)
	h.e.Start()
	h.take()
	h.notify(5, Leading, 3, 5, 40, 2)
	if rd := h.notify(1, Following, 3, 5, 40, 2); rd.Decided != nil {
		t.Fatalf("joined on 2 of 5: %+v", rd.Decided)
	}
}

func TestResendBackoff(t *testing.T) {
	h := newHarness(t, 1, []int64{1, 2, 3}, nil, 5, 1, 2) // first interval 2, cap 8
	h.e.Start()
	h.take()
	var sends []int
	for tick := 1; tick <= 40; tick++ {
		h.e.Tick()
		if rd := h.take(); len(rd.Messages) > 0 {
			if len(rd.Messages) != 2 {
				t.Fatalf("re-send to %d peers", len(rd.Messages))
			}
			sends = append(sends, tick)
		}
	}
	want := []int{2, 6, 14, 22, 30, 38} // gaps 2, 4, 8, 8, ...
	if len(sends) != len(want) {
		t.Fatalf("re-sends at ticks %v, want %v", sends, want)
	}
	for i := range want {
		if sends[i] != want[i] {
			t.Fatalf("re-sends at ticks %v, want %v", sends, want)
		}
	}
}

func TestSingleVoterLeadsAtOnce(t *testing.T) {
	h := newHarness(t, 1, []int64{1}, nil, 5, 1, 5)
	h.e.Start()
	rd := h.take()
	if rd.Decided == nil || rd.Decided.State != Leading || len(rd.Messages) != 0 {
		t.Fatalf("single voter: %+v", rd)
	}
}

// A server a reconfig removed votes for nobody and follows the leader the
// new voters follow; a server it added counts from then on.
func TestSetMembership(t *testing.T) {
	h := newHarness(t, 3, []int64{1, 2, 3}, nil, 5, 1, 3)
	h.e.SetMembership([]int64{1, 2, 4}, nil)
	if h.e.Quorum() != 2 {
		t.Fatalf("quorum %d of three voters, want 2", h.e.Quorum())
	}
	h.e.Start()
	rd := h.take()
	if v := h.e.Vote(); v.Leader != NoVote {
		t.Fatalf("removed server votes %+v, want no vote", v)
	}
	if len(rd.Messages) != 3 {
		t.Fatalf("Start sent %d notifications, want 3 (voters 1, 2 and 4)", len(rd.Messages))
	}
	h.notify(1, Leading, 4, 1, 9, 2)
	rd = h.notify(4, Following, 4, 1, 9, 2)
	if rd.Decided == nil || rd.Decided.Leader != 1 || rd.Decided.State != Observing {
		t.Fatalf("decision %+v, want to follow 1 without a vote", rd.Decided)
	}
}
