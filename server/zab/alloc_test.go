package zab

import (
	"testing"
)

// A write of synchronous clients is a Ready of its own on every member:
// the leader's proposal, each follower's ACK, the leader's COMMITs. The
// machines' allocations per such write, counted with the simulated
// network's own (about 10: its links and the applied sequences), were 30
// when every Ready regrew Messages and Commit from nil and the leader
// sorted its learners' ids on every proposal and ACK; 19 without.
func TestSimulatedSynchronousWriteAllocations(t *testing.T) {
	c := newCluster(t, 1, simOptions{voters: 3})
	c.manual = true
	c.start(c.nodes[1], 1)
	for _, id := range c.voters[1:] {
		c.start(c.nodes[id], 1)
	}
	c.drainAll()
	data := make([]byte, 1024)
	write := func() {
		if _, err := c.nodes[1].z.Propose(data); err != nil {
			t.Fatal(err)
		}
		c.process(c.nodes[1])
		c.drainAll()
		for _, id := range c.ids {
			c.nodes[id].applied = c.nodes[id].applied[:0]
		}
		c.committed = c.committed[:0]
	}
	for range 100 { // past the first chunks' allocations
		write()
	}
	const limit = 22
	if allocs := testing.AllocsPerRun(200, write); allocs > limit {
		t.Fatalf("%.1f allocations per synchronous write in a simulated 3-voter ensemble, want at most %d", allocs, limit)
	}
}
