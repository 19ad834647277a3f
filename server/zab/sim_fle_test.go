package zab

import (
	"math/rand"
	"slices"
	"testing"

	"github.com/zkbench/zkbench/server/election"
)

// The simulator with package election's Fast Leader Election in place of
// the stand-in: every server runs FLE while it has no Zab machine, its
// notifications travel on their own FIFO links (cut by the same
// partitions), and a decision starts Zab in the decided role.

func (c *cluster) lookAgain(n *simNode) {
	if n.el == nil {
		n.el = election.New(election.Config{ID: n.id, Voters: c.voters, Observers: c.obs,
			FinalizeWaitTicks: 1, MaxNotifyIntervalTicks: 4, Rand: rand.New(rand.NewSource(c.rng.Int63()))},
			n.st.LastZxid(), n.st.CurrentEpoch())
	} else {
		n.el.SetHistory(n.st.LastZxid(), n.st.CurrentEpoch())
	}
	n.el.Start()
	c.processElection(n)
}

func (c *cluster) processElection(n *simNode) {
	for n.up && n.el != nil && n.el.HasReady() && !c.failed {
		rd := n.el.Ready()
		n.el.Advance()
		for _, m := range rd.Messages {
			if to := c.nodes[m.To]; to.up && c.reachable(m.From, m.To) {
				k := linkKey{m.From, m.To}
				c.elinks[k] = append(c.elinks[k], m)
			}
		}
		if d := rd.Decided; d != nil && n.z == nil {
			c.stats.elections++
			c.logf("FLE: %d decides %s leader %d %v", n.id, d.State, d.Leader, d.Vote)
			c.start(n, d.Leader)
		}
	}
}

func (c *cluster) deliverElection() {
	ks := make([]linkKey, 0, len(c.elinks))
	for k := range c.elinks {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b linkKey) int {
		if a.from != b.from {
			return int(a.from - b.from)
		}
		return int(a.to - b.to)
	})
	k := ks[c.rng.Intn(len(ks))]
	q := c.elinks[k]
	m := q[0]
	if len(q) == 1 {
		delete(c.elinks, k)
	} else {
		c.elinks[k] = q[1:]
	}
	n := c.nodes[m.To]
	if !n.up || n.el == nil || !c.reachable(m.From, m.To) {
		return
	}
	n.el.Step(m)
	c.processElection(n)
}

func (c *cluster) tickElections() {
	for _, id := range c.ids {
		if n := c.nodes[id]; n.up && n.el != nil {
			n.el.Tick()
			c.processElection(n)
		}
	}
}

// TestSimulatedSchedulesWithFLE runs seeded schedules with the real
// election deciding who leads.
func TestSimulatedSchedulesWithFLE(t *testing.T) {
	seeds := max(1, *simSeeds/5)
	if testing.Short() {
		seeds = max(1, seeds/5)
	}
	var total simStats
	committed, checked := 0, 0
	for seed := *simFirst; seed < *simFirst+int64(seeds); seed++ {
		sizes := []int{3, 5, 3, 5, 7, 1, 2, 4}
		opts := simOptions{voters: sizes[seed%int64(len(sizes))], observers: int(seed % 3), steps: *simSteps,
			faultRate: 0.01, midReadyCrash: 0.002, clients: 2 + int(seed%3)}
		c := newCluster(t, seed, opts)
		c.fle = true
		c.elinks = map[linkKey][]election.Notification{}
		for _, id := range c.ids {
			c.lookAgain(c.nodes[id])
		}
		for i := 0; i < opts.steps && !c.failed; i++ {
			c.step(true)
		}
		if !c.failed {
			c.settle()
		}
		if !c.failed {
			c.h.finish()
		}
		c.checkHistory()
		if c.failed || t.Failed() {
			return
		}
		total.add(c.stats)
		checked += len(c.h.rec.History().Ops)
		committed += len(c.committed)
	}
	t.Logf("%d schedules with FLE: %d entries committed, %d client operations checked; %+v", seeds, committed, checked, total)
	if seeds >= 50 && total.established < seeds {
		t.Errorf("too few leaders established: %+v", total)
	}
}
