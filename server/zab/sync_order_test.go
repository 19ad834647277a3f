package zab

import (
	"slices"
	"testing"
)

// Regression (found by the history checks of the simulator, seeds 2579 and
// 1145 of a 30,000-seed sweep): a sync completed after commits that came
// after it. A session that pipelined sync, read, write got its read answered
// once the sync completed, and the read saw the session's own later write.
// Upstream sends a sync's answer right after the COMMIT of the last
// proposal it waited for; a Ready must not put later commits before it.

// batchRun delivers what is queued on from->to as one batch: the receiver
// steps through all of it and then processes one Ready.
func (c *cluster) batchRun(from, to int64) {
	c.batch = true
	c.runLink(from, to)
	c.batch = false
	c.process(c.nodes[to])
}

func TestLeaderSyncCompletesBeforeLaterCommits(t *testing.T) {
	c := newManual(t, 3, 0)
	c.reign(1, 2, 3)
	c.run()
	l := c.nodes[1]
	c.write(1, "x")
	l.syncs[string(SyncRequest(0, 0, "s"))] = 0
	if err := l.z.Sync(SyncRequest(0, 0, "s")); err != nil {
		t.Fatal(err)
	}
	c.process(l)
	c.write(1, "w")
	c.order = []string{}
	// 2 logs x and w and acks both; the leader hears both ACKs at once.
	c.batchRun(1, 2)
	c.batchRun(2, 1)
	if want := []string{"1 applies x", "1 syncs " + string(SyncRequest(0, 0, "s")), "1 applies w"}; !slices.Equal(c.order, want) {
		t.Fatalf("leader did %q, want %q", c.order, want)
	}
}

func TestLearnerSyncCompletesBeforeLaterCommits(t *testing.T) {
	c := newManual(t, 3, 0)
	c.reign(1, 2, 3)
	c.run()
	f := c.nodes[2]
	c.write(1, "x")
	f.syncs[string(SyncRequest(0, 0, "s"))] = 0
	if err := f.z.Sync(SyncRequest(0, 0, "s")); err != nil {
		t.Fatal(err)
	}
	c.process(f)
	c.runLink(2, 1) // the leader's sync waits for x
	c.write(1, "w")
	c.order = []string{}
	// 3 acks x and w at once: the leader commits both together.
	c.batchRun(1, 3)
	c.batchRun(3, 1)
	// 2 hears the proposals, the commits and the sync's answer at once.
	c.batchRun(1, 2)
	var got []string
	for _, ev := range c.order {
		if ev[0] == '2' {
			got = append(got, ev)
		}
	}
	if want := []string{"2 applies x", "2 syncs " + string(SyncRequest(0, 0, "s")), "2 applies w"}; !slices.Equal(got, want) {
		t.Fatalf("learner did %q, want %q (all: %q)", got, want, c.order)
	}
}
