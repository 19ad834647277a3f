package election_test

import (
	"fmt"

	"github.com/zkbench/zkbench/server/election"
)

// Example runs three elections in one loop, passing messages by hand: the
// driver's duties from the package documentation in miniature.
func Example() {
	voters := []int64{1, 2, 3}
	history := map[int64]int64{1: 0x100000004, 2: 0x100000009, 3: 0x100000004} // last zxids
	nodes := map[int64]*election.Election{}
	for _, id := range voters {
		nodes[id] = election.New(election.Config{ID: id, Voters: voters, TickMs: 10,
			FinalizeWaitTicks: 4, MaxNotifyIntervalTicks: 50}, history[id], 1)
		nodes[id].Start()
	}
	var inflight []election.Notification
	take := func(id int64) {
		rd := nodes[id].Ready()
		inflight = append(inflight, rd.Messages...) // a real driver encodes and sends
		if d := rd.Decided; d != nil {
			fmt.Printf("server %d: %v, leader %d\n", id, d.State, d.Leader)
		}
		nodes[id].Advance()
	}
	for _, id := range voters {
		take(id)
	}
	for len(inflight) > 0 {
		m := inflight[0]
		inflight = inflight[1:]
		nodes[m.To].Step(m)
		take(m.To)
	}
	// Output:
	// server 3: FOLLOWING, leader 2
	// server 1: FOLLOWING, leader 2
	// server 2: LEADING, leader 2
}
