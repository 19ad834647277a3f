package election

import (
	"cmp"
	"flag"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

var simSeeds = flag.Int("sim.seeds", 500, "chaos schedules per ensemble size")

var simSeed = flag.Int64("sim.seed", -1, "run only the simulator schedule with this seed (as printed by a failure)")

// simOptions describes one seeded fault schedule for the in-memory
// simulator. All time is in logical ticks.
type simOptions struct {
	voters, observers int
	seed              int64
	finalizeWait      int
	maxNotify         int
	// Network faults, applied only before gst (global stabilisation time);
	// from gst on, messages are delivered within [minDelay, maxDelay].
	gst        int
	drop, dup  float64
	minDelay   int
	maxDelay   int // before gst
	stdMaxWait int // max delay after gst
	// Node faults before gst: crashes (at most a minority of voters down at
	// once) and restarts of crashed nodes with fresh state.
	crashes int
	// partition isolates a random minority of servers (observers may be
	// among them) for a window before gst: messages across are lost.
	partition bool
	restarts  bool
	// zabTimeout stands in for Zab: a follower whose leader is not leading,
	// or a leader without a quorum of followers, goes back to LOOKING after
	// this many ticks.
	zabTimeout int
	maxTicks   int
}

type simMsg struct {
	at  int
	seq int
	n   Notification
}

type simNode struct {
	id       int64
	voter    bool
	zxid     int64
	epoch    int64
	e        *Election
	alive    bool
	unhappy  int // ticks the Zab stand-in has been unhappy
	starts   int
	decision *Decision
}

type sim struct {
	t       testing.TB
	o       simOptions
	rng     *rand.Rand
	now     int
	seq     int
	nodes   map[int64]*simNode
	ids     []int64
	voters  []int64
	obs     []int64
	queue   []simMsg
	trace   []string
	crashAt map[int][]int64
	restart map[int][]int64
	// decisions counts decisions taken per node (for assertions).
	decisions   int
	firstDecide map[int64]Decision
	delivered   int
	// minority is the isolated side of the partition during [partFrom, partTo).
	minority         map[int64]bool
	partFrom, partTo int
}

func newSim(t testing.TB, o simOptions) *sim {
	s := &sim{
		t: t, o: o, rng: rand.New(rand.NewSource(o.seed)),
		nodes: map[int64]*simNode{}, crashAt: map[int][]int64{}, restart: map[int][]int64{},
		firstDecide: map[int64]Decision{},
	}
	for i := 1; i <= o.voters+o.observers; i++ {
		id := int64(i)
		s.ids = append(s.ids, id)
		if i <= o.voters {
			s.voters = append(s.voters, id)
		} else {
			s.obs = append(s.obs, id)
		}
	}
	for _, id := range s.ids {
		// The current epoch may be ahead of the last zxid's epoch (a new
		// epoch accepted before any transaction in it was logged).
		zxidEpoch := int64(1 + s.rng.Intn(2))
		epoch := zxidEpoch + int64(s.rng.Intn(2))
		n := &simNode{id: id, voter: int(id) <= o.voters, epoch: epoch, zxid: zxidEpoch<<32 | int64(s.rng.Intn(3))}
		s.nodes[id] = n
	}
	// Crash schedule: distinct voters, never more than a minority down.
	if o.crashes > 0 {
		minority := (o.voters - 1) / 2
		victims := s.rng.Perm(o.voters)[:min(o.crashes, minority)]
		for _, v := range victims {
			id := int64(v + 1)
			at := s.rng.Intn(max(o.gst, 1))
			s.crashAt[at] = append(s.crashAt[at], id)
			if o.restarts {
				back := at + 1 + s.rng.Intn(max(o.gst, 1))
				s.restart[back] = append(s.restart[back], id)
			}
		}
	}
	if o.partition {
		s.minority = map[int64]bool{}
		for _, i := range s.rng.Perm(len(s.ids))[:1+s.rng.Intn((o.voters-1)/2)] {
			s.minority[s.ids[i]] = true
		}
		s.partFrom = s.rng.Intn(max(o.gst/2, 1))
		s.partTo = s.partFrom + 1 + s.rng.Intn(max(o.gst-s.partFrom, 1))
	}
	return s
}

// severed reports whether the partition separates a and b now.
func (s *sim) severed(a, b int64) bool {
	return s.minority != nil && s.now >= s.partFrom && s.now < s.partTo && s.minority[a] != s.minority[b]
}

func (s *sim) logf(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf("t=%d ", s.now)+fmt.Sprintf(format, args...))
	if len(s.trace) > 400 {
		s.trace = s.trace[len(s.trace)-300:]
	}
}

func (s *sim) fail(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("seed %d (opts %+v): %s\nlast events:\n%s", s.o.seed, s.o, fmt.Sprintf(format, args...), strings.Join(s.trace, "\n"))
}

func (s *sim) boot(id int64) {
	n := s.nodes[id]
	n.e = New(Config{
		ID: id, Voters: s.voters, Observers: s.obs, TickMs: 10,
		FinalizeWaitTicks: s.o.finalizeWait, MaxNotifyIntervalTicks: s.o.maxNotify,
		Rand: rand.New(rand.NewSource(s.o.seed + id)),
	}, n.zxid, n.epoch)
	n.alive = true
	n.decision = nil
	n.unhappy = 0
	n.starts++
	s.logf("boot %d", id)
	n.e.Start()
	s.drain(n)
}

func (s *sim) drain(n *simNode) {
	rd := n.e.Ready()
	for _, m := range rd.Messages {
		if m.From != n.id {
			s.fail("node %d sent a message from %d", n.id, m.From)
		}
		s.send(m)
	}
	if d := rd.Decided; d != nil {
		s.decide(n, *d)
	}
	n.e.Advance()
}

func (s *sim) send(m Notification) {
	faulty := s.now < s.o.gst
	if faulty && s.rng.Float64() < s.o.drop {
		return
	}
	if s.severed(m.From, m.To) {
		return
	}
	copies := 1
	if faulty && s.rng.Float64() < s.o.dup {
		copies = 2
	}
	maxDelay := s.o.stdMaxWait
	if faulty {
		maxDelay = s.o.maxDelay
	}
	// Round-trip the wire format so the codec is exercised too.
	wire, _, err := DecodeNotification(EncodeNotification(m, nil))
	if err != nil {
		s.fail("codec: %v", err)
	}
	wire.From, wire.To = m.From, m.To
	if wire != m {
		s.fail("codec changed %+v into %+v", m, wire)
	}
	for range copies {
		d := s.o.minDelay
		if maxDelay > d {
			d += s.rng.Intn(maxDelay - d + 1)
		}
		s.seq++
		s.queue = append(s.queue, simMsg{at: s.now + d, seq: s.seq, n: m})
	}
}

func (s *sim) decide(n *simNode, d Decision) {
	s.logf("node %d decides %v leader=%d vote=%v", n.id, d.State, d.Leader, d.Vote)
	s.decisions++
	dd := d
	n.decision = &dd
	n.unhappy = 0
	if _, ok := s.firstDecide[n.id]; !ok {
		s.firstDecide[n.id] = d
	}
	want := Following
	switch {
	case d.Leader == n.id:
		want = Leading
	case !n.voter:
		want = Observing
	}
	if d.State != want {
		s.fail("node %d decided state %v for leader %d, want %v", n.id, d.State, d.Leader, want)
	}
	if n.e.State() != d.State {
		s.fail("node %d: State()=%v after deciding %v", n.id, n.e.State(), d.State)
	}
	leader, ok := s.nodes[d.Leader]
	if !ok || !leader.voter {
		s.fail("node %d decided on non-voter leader %d", n.id, d.Leader)
	}
	if d.State == Leading {
		// FLE's guarantee: a quorum of voters had nothing better than the leader.
		lv := s.initVote(leader)
		behind := 0
		for _, v := range s.voters {
			if !refBetter(s.initVote(s.nodes[v]), lv) {
				behind++
			}
		}
		if behind < len(s.voters)/2+1 {
			s.fail("leader %d %v is ahead of only %d voters", n.id, lv, behind)
		}
	}
}

// refBetter is the total order written independently of Vote.Better, so
// the simulator's checks do not trust the code under test.
func refBetter(a, b Vote) bool {
	x := [3]int64{a.PeerEpoch, a.Zxid, a.Leader}
	y := [3]int64{b.PeerEpoch, b.Zxid, b.Leader}
	return slices.Compare(x[:], y[:]) > 0
}

func (s *sim) initVote(n *simNode) Vote {
	return Vote{Leader: n.id, Zxid: n.zxid, PeerEpoch: n.epoch}
}

// step runs one tick: deliver due messages, tick every live node, apply the
// Zab stand-in, then node faults.
func (s *sim) step() {
	slices.SortFunc(s.queue, func(a, b simMsg) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq))
	})
	i := 0
	for ; i < len(s.queue) && s.queue[i].at <= s.now; i++ {
		m := s.queue[i].n
		to := s.nodes[m.To]
		if to == nil {
			s.fail("message to unknown node %d", m.To)
		}
		if !to.alive || s.severed(m.From, m.To) {
			continue
		}
		s.delivered++
		to.e.Step(m)
		s.drain(to)
	}
	s.queue = append(s.queue[:0], s.queue[i:]...)
	for _, id := range s.ids {
		if n := s.nodes[id]; n.alive {
			n.e.Tick()
			s.drain(n)
		}
	}
	s.zab()
	for _, id := range s.crashAt[s.now] {
		s.logf("crash %d", id)
		s.nodes[id].alive = false
	}
	for _, id := range s.restart[s.now] {
		s.boot(id)
	}
	s.now++
}

// zab is a god's-eye stand-in for Zab's discovery and ping timeouts.
func (s *sim) zab() {
	followers := map[int64]int{}
	for _, id := range s.ids {
		n := s.nodes[id]
		if n.alive && n.decision != nil && n.voter && n.e.State() == Following && !s.severed(id, n.decision.Leader) {
			followers[n.decision.Leader]++
		}
	}
	for _, id := range s.ids {
		n := s.nodes[id]
		if !n.alive || n.decision == nil {
			continue
		}
		happy := true
		switch n.e.State() {
		case Leading:
			happy = followers[id]+1 >= len(s.voters)/2+1
		case Following, Observing:
			l := s.nodes[n.decision.Leader]
			happy = l.alive && l.decision != nil && l.e.State() == Leading && !s.severed(id, l.id)
		}
		if happy {
			n.unhappy = 0
			continue
		}
		n.unhappy++
		if n.unhappy >= s.o.zabTimeout {
			s.logf("zab gives up on node %d (%v)", id, n.e.State())
			n.decision = nil
			n.unhappy = 0
			n.e.Start()
			s.drain(n)
		}
	}
}

// stable reports whether every live node is out of election and all agree
// on one leader that leads.
func (s *sim) stable() (int64, bool) {
	leader := int64(-1)
	for _, id := range s.ids {
		n := s.nodes[id]
		if !n.alive {
			continue
		}
		if n.decision == nil || n.e.State() == Looking {
			return 0, false
		}
		if leader == -1 {
			leader = n.decision.Leader
		} else if leader != n.decision.Leader {
			return 0, false
		}
	}
	l := s.nodes[leader]
	return leader, l != nil && l.alive && l.e.State() == Leading
}

// run boots every node and runs until stable after gst. It returns the
// tick at which the ensemble became stable.
func (s *sim) run() int {
	for _, id := range s.ids {
		s.boot(id)
	}
	for s.now < s.o.maxTicks {
		s.step()
		if s.now > s.o.gst {
			if _, ok := s.stable(); ok {
				return s.now
			}
		}
	}
	s.fail("no stable leader after %d ticks", s.o.maxTicks)
	return 0
}

func seeds(t *testing.T, full, short int) int {
	if testing.Short() {
		return short
	}
	return full
}

// TestSimCleanElection: no loss, delays shorter than the finalize wait,
// everyone starting together (possibly with a minority crashed from the
// start). Every server must decide on the first round, all on the same
// leader, and that leader must be the best live voter.
func TestSimCleanElection(t *testing.T) {
	for _, size := range []int{3, 5, 7} {
		for seed := range int64(seeds(t, 100, 20)) {
			o := simOptions{voters: size, observers: int(seed % 2), seed: seed, finalizeWait: 4, maxNotify: 20,
				minDelay: 0, maxDelay: 3, stdMaxWait: 3, zabTimeout: 1 << 30, maxTicks: 200}
			s := newSim(t, o)
			down := s.rng.Intn((size-1)/2 + 1)
			crashed := map[int64]bool{}
			for _, v := range s.rng.Perm(size)[:down] {
				crashed[int64(v+1)] = true
			}
			for _, id := range s.ids {
				if !crashed[id] {
					s.boot(id)
				}
			}
			if got := len(s.ids) - down; countAlive(s) != got {
				s.fail("%d nodes alive, want %d", countAlive(s), got)
			}
			for s.now < o.maxTicks && len(s.firstDecide) < len(s.ids)-down {
				s.step()
			}
			var best *simNode
			for _, v := range s.voters {
				n := s.nodes[v]
				if n.alive && (best == nil || refBetter(s.initVote(n), s.initVote(best))) {
					best = n
				}
			}
			for _, id := range s.ids {
				n := s.nodes[id]
				if !n.alive {
					continue
				}
				d, ok := s.firstDecide[id]
				if !ok {
					s.fail("node %d did not decide", id)
				}
				if d.Leader != best.id {
					s.fail("node %d chose %d, best live voter is %d", id, d.Leader, best.id)
				}
				if n.starts != 1 {
					s.fail("node %d needed %d rounds", id, n.starts)
				}
			}
		}
	}
}

// TestSimChaos: message loss, duplication, reordering, long delays,
// crashes/restarts and a minority partition until gst; then the network behaves. The ensemble must
// reach one leader that everyone follows, and every LEADING decision along
// the way must be backed by a quorum (checked in decide).
func TestSimChaos(t *testing.T) {
	for _, size := range []int{3, 5, 7} {
		for seed := range int64(seeds(t, *simSeeds, 50)) {
			o := simOptions{voters: size, observers: int(seed % 3 / 2), seed: seed*31 + int64(size),
				finalizeWait: 3, maxNotify: 16, gst: 60 + int(seed%5)*20,
				drop: 0.3, dup: 0.1, minDelay: 0, maxDelay: 12, stdMaxWait: 2,
				crashes: int(seed % 4), restarts: seed%2 == 0, partition: seed%3 == 1,
				zabTimeout: 8, maxTicks: 3000}
			if *simSeed >= 0 && o.seed != *simSeed {
				continue
			}
			s := newSim(t, o)
			s.run()
		}
	}
}

// TestSimRestartJoinsLeader: a server that crashes and comes back with a
// fresh election state must follow the established leader, and nobody
// else may change role.
func TestSimRestartJoinsLeader(t *testing.T) {
	for seed := range int64(seeds(t, 60, 15)) {
		for _, size := range []int{3, 5, 7} {
			o := simOptions{voters: size, observers: 1, seed: seed, finalizeWait: 3, maxNotify: 16,
				maxDelay: 2, stdMaxWait: 2, zabTimeout: 8, maxTicks: 1000}
			s := newSim(t, o)
			leader := int64(0)
			for _, id := range s.ids {
				s.boot(id)
			}
			for s.now < o.maxTicks {
				s.step()
				if l, ok := s.stable(); ok {
					leader = l
					break
				}
			}
			if leader == 0 {
				s.fail("no leader")
			}
			// Crash and restart every non-leader in turn, observer included.
			for _, id := range s.ids {
				if id == leader {
					continue
				}
				before := s.decisions
				s.nodes[id].alive = false
				for range 5 {
					s.step()
				}
				s.boot(id)
				for range 40 {
					s.step()
				}
				n := s.nodes[id]
				if n.decision == nil || n.decision.Leader != leader {
					s.fail("restarted node %d did not join leader %d: %+v", id, leader, n.decision)
				}
				if got := s.decisions - before; got != 1 {
					s.fail("restart of %d caused %d decisions, want 1 (only its own)", id, got)
				}
			}
		}
	}
}

// TestSimLeaderCrash: after the leader dies the rest elect the best
// remaining voter.
func TestSimLeaderCrash(t *testing.T) {
	for seed := range int64(seeds(t, 60, 15)) {
		for _, size := range []int{3, 5, 7} {
			o := simOptions{voters: size, seed: seed, finalizeWait: 3, maxNotify: 16,
				maxDelay: 2, stdMaxWait: 2, zabTimeout: 5, maxTicks: 1000}
			s := newSim(t, o)
			leader := s.waitStable()
			s.nodes[leader].alive = false
			s.logf("crash leader %d", leader)
			next := s.waitStable()
			var best *simNode
			for _, v := range s.voters {
				n := s.nodes[v]
				if n.alive && (best == nil || refBetter(s.initVote(n), s.initVote(best))) {
					best = n
				}
			}
			if next != best.id {
				s.fail("after leader %d crashed, %d leads; best live voter is %d", leader, next, best.id)
			}
		}
	}
}

func countAlive(s *sim) int {
	n := 0
	for _, x := range s.nodes {
		if x.alive {
			n++
		}
	}
	return n
}

func (s *sim) waitStable() int64 {
	if s.now == 0 {
		for _, id := range s.ids {
			s.boot(id)
		}
	}
	for s.now < s.o.maxTicks {
		s.step()
		if l, ok := s.stable(); ok {
			return l
		}
	}
	s.fail("no stable leader")
	return 0
}

// TestSimElectionTicks reports how many ticks a clean election takes (for
// the record; it asserts only the loose bound that termination implies).
func TestSimElectionTicks(t *testing.T) {
	for _, size := range []int{3, 5, 7, 13} {
		for _, down := range []int{0, 1} {
			var total, worst int
			const runs = 20
			for seed := range int64(runs) {
				o := simOptions{voters: size, seed: seed, finalizeWait: 4, maxNotify: 20,
					minDelay: 1, maxDelay: 1, stdMaxWait: 1, zabTimeout: 1 << 30, maxTicks: 500}
				s := newSim(t, o)
				for _, id := range s.ids[down:] {
					s.boot(id)
				}
				for s.now < o.maxTicks && len(s.firstDecide) < len(s.ids)-down {
					s.step()
				}
				if len(s.firstDecide) < len(s.ids)-down {
					s.fail("not all decided")
				}
				total += s.now - 1 // the tick in which the last server decided
				worst = max(worst, s.now-1)
			}
			t.Logf("%2d voters, %d down, 1-tick links, finalize wait 4: all decided in tick %.1f on average (worst %d)",
				size, down, float64(total)/runs, worst)
		}
	}
}

// BenchmarkSimElection runs clean simulated elections (1-tick links,
// finalize wait 4) and reports the logical ticks until every server has
// decided, with all up and with one voter down (so the finalize wait runs).
func BenchmarkSimElection(b *testing.B) {
	for _, size := range []int{3, 5, 7, 13} {
		for _, down := range []int{0, 1} {
			b.Run(fmt.Sprintf("voters=%d/down=%d", size, down), func(b *testing.B) {
				ticks := 0
				for i := range b.N {
					o := simOptions{voters: size, seed: int64(i), finalizeWait: 4, maxNotify: 20,
						minDelay: 1, maxDelay: 1, stdMaxWait: 1, zabTimeout: 1 << 30, maxTicks: 500}
					s := newSim(b, o)
					for _, id := range s.ids[down:] {
						s.boot(id)
					}
					for s.now < o.maxTicks && len(s.firstDecide) < len(s.ids)-down {
						s.step()
					}
					ticks += s.now - 1 // the tick in which the last server decided
				}
				b.ReportMetric(float64(ticks)/float64(b.N), "ticks/election")
			})
		}
	}
}
