package zab

import (
	"fmt"
	"testing"
)

// BenchmarkBroadcast measures the state machines' cost per committed write
// in a simulated ensemble (no disk, no network): proposals in batches of
// 100, delivered until everyone applied them.
func BenchmarkBroadcast(b *testing.B) {
	for _, voters := range []int{3, 5} {
		b.Run(fmt.Sprintf("voters=%d", voters), func(b *testing.B) {
			c := newCluster(b, 1, simOptions{voters: voters})
			c.manual = true
			ids := c.voters[1:]
			c.start(c.nodes[1], 1)
			for _, id := range ids {
				c.start(c.nodes[id], 1)
			}
			c.drainAll()
			data := make([]byte, 1024)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				for j := 0; j < 100 && i < b.N; j, i = j+1, i+1 {
					if _, err := c.nodes[1].z.Propose(data); err != nil {
						b.Fatal(err)
					}
				}
				c.process(c.nodes[1])
				c.drainAll()
				// Keep the simulated state small: the applied
				// sequences are checked elsewhere.
				for _, id := range c.ids {
					c.nodes[id].applied = c.nodes[id].applied[:0]
				}
				c.committed = c.committed[:0]
			}
		})
	}
}

func (c *cluster) drainAll() {
	for {
		ks := c.nonEmptyLinks()
		if len(ks) == 0 {
			return
		}
		for _, k := range ks {
			for len(c.links[k]) > 0 && c.deliver(k) {
			}
		}
	}
}
