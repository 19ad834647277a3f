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

// The Messages array keeps alive the packets it handed out until it is
// replaced (the driver may still queue them): it is replaced once their
// data passes keptMessageBytes, so a leader proposing 16 KiB writes to two
// followers, one per Ready, does not pin 64 Readies' worth (2 MiB).
func TestMessagesArrayKeepsBoundedData(t *testing.T) {
	c := newCluster(t, 1, simOptions{voters: 3})
	c.manual = true
	c.start(c.nodes[1], 1)
	for _, id := range c.voters[1:] {
		c.start(c.nodes[id], 1)
	}
	c.drainAll()
	z := c.nodes[1].z
	array := func() *Message { // the backing array, whatever the slice's start
		ms := z.out.Messages
		if cap(ms) == 0 {
			return nil
		}
		return &ms[:cap(ms)][cap(ms)-1]
	}
	data := make([]byte, 16<<10)
	var cur *Message
	pinned, most := 0, 0
	for range 200 {
		if _, err := z.Propose(data); err != nil {
			t.Fatal(err)
		}
		if a := array(); a != cur {
			cur, pinned = a, 0
		}
		rd := z.Ready()
		for _, m := range rd.Messages {
			pinned += len(m.Packet.Data)
		}
		most = max(most, pinned)
		c.process(c.nodes[1]) // Advance, and whatever follows
		c.drainAll()
		for _, id := range c.ids {
			c.nodes[id].applied = c.nodes[id].applied[:0]
		}
		c.committed = c.committed[:0]
	}
	if limit := keptMessageBytes + 2*len(data); most > limit {
		t.Fatalf("one Messages array handed out %d bytes of data, want at most %d", most, limit)
	}
}
