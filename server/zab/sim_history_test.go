package zab

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/history"
)

// Simulated ZooKeeper clients on top of the simulated cluster, recorded by
// package history and judged by history.Check after every schedule: the
// cluster's own invariants say Zab agreed on one sequence; the history says
// what clients could see of it is what ZooKeeper promises (linearizable
// writes, synced reads, per-session order, no time travel, no lost
// acknowledged writes).
//
// Each server keeps a register map (key -> value, version, mzxid) applied
// from Ready.Commit in order. A client holds one session, attached to one
// serving server at a time, and pipelines up to 1-3 operations:
//
//   - Write(key, unique value): the entry "key=value" goes through Propose
//     (leader) or Forward (learner) and is acknowledged when the client's
//     own server applies it, with the version and zxid it produced.
//   - Read(key): answered from the server's applied registers (stale reads
//     are allowed) as soon as the session's earlier operations are answered.
//   - Sync(key): Zab's Sync; done when the token returns in Ready.Synced on
//     that server.
//
// A client whose server crashes or stops serving (its Zab machine is gone),
// whose connection the network drops, or whose oldest operation gets no
// answer within simClientTimeout ticks, loses the connection: a write in
// flight becomes of unknown outcome, a read or sync failed. It then re-attaches, with the same session, to a serving server
// whose applied zxid is not behind the last zxid the session saw (a server
// behind it refuses the session, as upstream; go-zookeeper tries the next).
// Every reply carries the server's applied zxid, which the session keeps, as
// upstream's reply header does.
//
// After healing the clients stop, the cluster quiesces, every server syncs,
// and what each then holds is the history.Final.
//
// Time, for the recorder, is simulator time: one step is a millisecond, and
// events within a step are a nanosecond apart, in the order they happened.

const (
	simKeys          = 3
	simClientTimeout = 10 // ticks without an answer before a client gives up its connection
)

// simBug is a deliberate fault in the simulated servers, to show that the
// history checks catch it.
type simBug int

const (
	bugNone simBug = iota
	// bugStaleReads: a server answers reads from a copy of its registers
	// refreshed only every few ticks, so a read after a sync (or after the
	// session's own write) may return an older value.
	bugStaleReads
	// bugEarlyAck: a leader acknowledges a write to its own client when it
	// proposes it, before a quorum has logged it.
	bugEarlyAck
)

func (b simBug) String() string {
	switch b {
	case bugNone:
		return "none"
	case bugStaleReads:
		return "stale reads"
	case bugEarlyAck:
		return "ack before commit"
	}
	return fmt.Sprintf("simBug(%d)", int(b))
}

var (
	errSimTimeout  = errors.New("no answer: connection given up")
	errSimConnLost = errors.New("connection lost: server down or not serving")
	errSimDropped  = errors.New("connection dropped by the network")
)

type simHistory struct {
	c       *cluster
	bug     simBug
	rec     *history.Recorder
	keys    []string
	clients []*simClient
	writes  map[string]*simClient // value -> client awaiting its ack
	syncs   map[string]*simClient // sync token -> client awaiting it
	regs    map[int64]*simRegs
	// finalSyncs are the syncs of the final read still to complete.
	finalSyncs map[string]bool
	steps      int64 // simulator time, in steps
	last       int64 // last timestamp handed out
	seq        int

	report history.Report
	final  *history.Final
	stats  simHistoryStats
}

type simHistoryStats struct {
	ops, writesAcked, writesUnknown, writesFailed, reads, syncs, syncsFailed, readsFailed int
	attaches, refused, timeouts                                                           int
}

func (s *simHistoryStats) add(o simHistoryStats) {
	s.ops += o.ops
	s.writesAcked += o.writesAcked
	s.writesUnknown += o.writesUnknown
	s.writesFailed += o.writesFailed
	s.reads += o.reads
	s.syncs += o.syncs
	s.syncsFailed += o.syncsFailed
	s.readsFailed += o.readsFailed
	s.attaches += o.attaches
	s.refused += o.refused
	s.timeouts += o.timeouts
}

// simRegs is one server's register map: the state after its first n applied
// entries. Every server applies a prefix of the one committed sequence (the
// cluster checks it), so the map is advanced lazily and rebuilt only when
// the server's applied state went back (a crash).
type simRegs struct {
	n     int
	m     map[string]history.State
	cache map[string]history.State // bugStaleReads: what reads see
	at    int                      // tick the cache was taken
}

type simClient struct {
	id       int
	session  int64
	depth    int   // how many operations it pipelines
	server   int64 // 0: not attached
	inc      int   // the server's machine instance the connection is to
	lastZxid int64
	ops      []*simClientOp // in flight, in the order issued
}

type simClientOp struct {
	kind     history.Kind
	key      string
	value    string // write
	token    string // sync
	p        *history.Pending
	deadline int // tick
}

// done removes op from cl's operations in flight.
func (cl *simClient) done(op *simClientOp) {
	if i := slices.Index(cl.ops, op); i >= 0 {
		cl.ops = slices.Delete(cl.ops, i, i+1)
	}
}

func newSimHistory(c *cluster, clients int, bug simBug) *simHistory {
	h := &simHistory{c: c, bug: bug, writes: map[string]*simClient{}, syncs: map[string]*simClient{}, regs: map[int64]*simRegs{}}
	h.rec = history.NewRecorderClock(h.now)
	for i := 0; i < simKeys; i++ {
		k := fmt.Sprintf("/k%d", i)
		h.keys = append(h.keys, k)
		h.rec.SetInitial(k, h.initial(i))
	}
	for i := 1; i <= clients; i++ {
		h.clients = append(h.clients, &simClient{id: i, session: 0x1000 + int64(i), depth: 1 + i%3})
	}
	return h
}

// initial is key i's state before the run: created, as if before the first
// election, at zxid i+1 of epoch 0 (below every zxid Zab gives).
func (h *simHistory) initial(i int) history.State {
	return history.State{Value: "init", HasStat: true, Zxid: int64(i + 1)}
}

// now is the recorder's clock: strictly increasing, one millisecond a step.
func (h *simHistory) now() int64 {
	t := h.steps * 1_000_000
	if t <= h.last {
		t = h.last + 1
	}
	h.last = t
	return t
}

// state returns n's applied registers.
func (h *simHistory) state(n *simNode) map[string]history.State {
	r := h.regs[n.id]
	if r == nil || r.n > len(n.applied) {
		r = &simRegs{m: map[string]history.State{}}
		for i, k := range h.keys {
			r.m[k] = h.initial(i)
		}
		h.regs[n.id] = r
	}
	for _, e := range n.applied[r.n:] {
		k, v, ok := strings.Cut(string(e.Data), "=")
		if !ok {
			continue // not a client write (the settling write)
		}
		s := r.m[k]
		r.m[k] = history.State{Value: v, HasStat: true, Version: s.Version + 1, Zxid: e.Zxid}
	}
	r.n = len(n.applied)
	return r.m
}

// readState is what a read on n returns.
func (h *simHistory) readState(n *simNode, key string) history.State {
	m := h.state(n)
	if h.bug != bugStaleReads {
		return m[key]
	}
	r := h.regs[n.id]
	if r.cache == nil || h.c.tick-r.at >= 8 {
		r.cache = make(map[string]history.State, len(m))
		for k, s := range m {
			r.cache[k] = s
		}
		r.at = h.c.tick
	}
	return r.cache[key]
}

func (h *simHistory) see(cl *simClient, zxid int64) { cl.lastZxid = max(cl.lastZxid, zxid) }

// attached says whether cl's connection is alive: its server is serving
// with the machine instance the client connected to.
func (h *simHistory) attached(cl *simClient) bool {
	if cl.server == 0 {
		return false
	}
	n := h.c.nodes[cl.server]
	return n.up && n.z != nil && n.inc == cl.inc && n.z.active
}

// detach drops cl's connection, failing what it had in flight.
func (h *simHistory) detach(cl *simClient, err error) {
	for _, op := range cl.ops {
		switch op.kind {
		case history.KindWrite:
			delete(h.writes, op.value)
			h.stats.writesUnknown++
			op.p.Fail(err, true)
		case history.KindSync:
			delete(h.syncs, op.token)
			h.stats.syncsFailed++
			op.p.Fail(err, false)
		default:
			h.stats.readsFailed++
			op.p.Fail(err, false)
		}
		h.c.logf("client %d: %v fails: %v", cl.id, op.kind, err)
	}
	cl.ops = nil
	cl.server, cl.inc = 0, 0
}

// attach connects cl to a serving server that is not behind it.
func (h *simHistory) attach(cl *simClient) bool {
	c := h.c
	var ok []*simNode
	for _, id := range c.ids {
		n := c.nodes[id]
		if !n.up || n.z == nil || !n.z.active {
			continue
		}
		if n.appliedZxid() < cl.lastZxid {
			h.stats.refused++
			continue
		}
		ok = append(ok, n)
	}
	if len(ok) == 0 {
		return false
	}
	n := ok[c.rng.Intn(len(ok))]
	cl.server, cl.inc = n.id, n.inc
	h.stats.attaches++
	c.logf("client %d attaches to %d (session saw %s, server applied %s)", cl.id, n.id, FormatZxid(cl.lastZxid), FormatZxid(n.appliedZxid()))
	return true
}

// tick notices broken connections and operations that took too long.
func (h *simHistory) tick() {
	for _, cl := range h.clients {
		switch {
		case cl.server != 0 && !h.attached(cl):
			h.detach(cl, errSimConnLost)
		case len(cl.ops) > 0 && h.c.tick > cl.ops[0].deadline:
			h.stats.timeouts++
			h.detach(cl, errSimTimeout)
		}
	}
}

// clientOp gives each client, with even odds, the chance to do its next
// operation.
func (h *simHistory) clientOp() {
	for _, cl := range h.clients {
		if h.c.rng.Intn(2) == 0 && !h.c.failed {
			h.clientStep(cl)
		}
	}
}

// clientStep lets cl issue its next operation, if it has fewer than its
// depth in flight.
func (h *simHistory) clientStep(cl *simClient) {
	c := h.c
	if cl.server != 0 && !h.attached(cl) {
		h.detach(cl, errSimConnLost)
	}
	if len(cl.ops) == 0 && cl.server != 0 && c.rng.Intn(25) == 0 {
		// The network drops the connection; the client moves on.
		h.detach(cl, errSimDropped)
	}
	if len(cl.ops) >= cl.depth || cl.server == 0 && !h.attach(cl) {
		return
	}
	n := c.nodes[cl.server]
	key := h.keys[c.rng.Intn(len(h.keys))]
	h.stats.ops++
	switch r := c.rng.Intn(20); {
	case r < 9:
		h.write(cl, n, key)
	case r < 16:
		h.read(cl, n, key)
	default:
		h.sync(cl, n, key)
	}
}

// read is answered from n's applied registers once the session's earlier
// operations are answered (a server holds a session's read behind its
// pending writes and syncs, as upstream's CommitProcessor does).
func (h *simHistory) read(cl *simClient, n *simNode, key string) {
	h.stats.reads++
	p := h.rec.Invoke(cl.id, cl.session, history.Read(key))
	cl.ops = append(cl.ops, &simClientOp{kind: history.KindRead, key: key, p: p, deadline: h.c.tick + simClientTimeout})
	h.serveReads(cl, n)
}

// serveReads answers the reads at the head of cl's operations.
func (h *simHistory) serveReads(cl *simClient, n *simNode) {
	for len(cl.ops) > 0 && cl.ops[0].kind == history.KindRead {
		op := cl.ops[0]
		cl.ops = cl.ops[1:]
		s := h.readState(n, op.key)
		h.see(cl, n.appliedZxid())
		op.p.Return(history.Result{Value: s.Value, HasStat: true, Version: s.Version, Zxid: s.Zxid})
	}
}

func (h *simHistory) write(cl *simClient, n *simNode, key string) {
	c := h.c
	h.seq++
	value := fmt.Sprintf("c%d-%d", cl.id, h.seq)
	p := h.rec.Invoke(cl.id, cl.session, history.Write(key, value))
	data := []byte(key + "=" + value)
	op := &simClientOp{kind: history.KindWrite, key: key, value: value, p: p, deadline: c.tick + simClientTimeout}
	cl.ops = append(cl.ops, op)
	h.writes[value] = cl
	var err error
	if n.z.role == Leader {
		var zxid int64
		zxid, err = n.z.Propose(data)
		if err == nil && h.bug == bugEarlyAck {
			cl.done(op)
			delete(h.writes, value)
			h.see(cl, zxid)
			h.stats.writesAcked++
			p.Return(history.Result{Zxid: zxid})
		}
	} else {
		err = n.z.Forward(data, nil)
	}
	if err != nil {
		// Refused before it went anywhere: certainly not applied.
		cl.done(op)
		delete(h.writes, value)
		h.stats.writesFailed++
		p.Fail(err, false)
		return
	}
	c.process(n)
}

func (h *simHistory) sync(cl *simClient, n *simNode, key string) {
	c := h.c
	h.seq++
	tok := string(SyncRequest(0, 0, fmt.Sprintf("csync%d", h.seq)))
	p := h.rec.Invoke(cl.id, cl.session, history.Sync(key))
	n.syncs[tok] = c.leaderCommitted(n)
	if err := n.z.Sync([]byte(tok)); err != nil {
		delete(n.syncs, tok)
		h.stats.syncsFailed++
		p.Fail(err, false)
		return
	}
	cl.ops = append(cl.ops, &simClientOp{kind: history.KindSync, key: key, token: tok, p: p, deadline: c.tick + simClientTimeout})
	h.syncs[tok] = cl
	c.process(n)
}

// applied is called after n applied e: the client waiting for it on n gets
// its acknowledgement.
func (h *simHistory) applied(n *simNode, e Entry) {
	k, v, ok := strings.Cut(string(e.Data), "=")
	if !ok {
		return
	}
	cl := h.writes[v]
	if cl == nil || cl.server != n.id || cl.inc != n.inc {
		return
	}
	i := slices.IndexFunc(cl.ops, func(op *simClientOp) bool { return op.kind == history.KindWrite && op.value == v })
	if i < 0 {
		h.c.fatalf("client %d: write %q awaited but not in flight", cl.id, v)
		return
	}
	op := cl.ops[i]
	cl.done(op)
	delete(h.writes, v)
	s := h.state(n)[k]
	if s.Value != v || s.Zxid != e.Zxid {
		h.c.fatalf("node %d: applied %s %q but its registers say %v", n.id, FormatZxid(e.Zxid), e.Data, s)
		return
	}
	h.see(cl, n.appliedZxid())
	h.stats.writesAcked++
	op.p.Return(history.Result{HasStat: true, Version: s.Version, Zxid: s.Zxid})
	h.serveReads(cl, n)
}

// synced is called when n completes the sync tok.
func (h *simHistory) synced(n *simNode, tok string) {
	delete(h.finalSyncs, tok)
	cl := h.syncs[tok]
	if cl == nil {
		return
	}
	delete(h.syncs, tok)
	i := slices.IndexFunc(cl.ops, func(op *simClientOp) bool { return op.kind == history.KindSync && op.token == tok })
	if cl.server != n.id || cl.inc != n.inc || i < 0 {
		return
	}
	op := cl.ops[i]
	cl.done(op)
	h.stats.syncs++
	h.see(cl, n.appliedZxid())
	op.p.Return(history.Result{})
	h.serveReads(cl, n)
}

// finish reads the final state once the cluster has settled: on every
// server, a sync and then every key, and checks the history against it.
func (h *simHistory) finish() {
	c := h.c
	// The clients are done: what they still have in flight is of unknown
	// outcome. Let it commit (or not) before reading, as a real run
	// stops its clients before the final read.
	for _, cl := range h.clients {
		h.detach(cl, errSimConnLost)
	}
	// A reign may still end (a leader starved of pings steps down even
	// without faults), and a sync pending then is lost with its machine:
	// start over when it happens.
	for round := 0; ; round++ {
		if round == 20 {
			c.fatalf("no final read: the reign keeps changing")
			return
		}
		if !h.waitQuiescent() || h.finalSync(round) {
			break
		}
	}
	if c.failed {
		return
	}
	f := &history.Final{Keys: map[string]history.State{}, Servers: map[string]map[string]history.State{}}
	for i, id := range c.ids {
		m := map[string]history.State{}
		for _, k := range h.keys {
			m[k] = h.state(c.nodes[id])[k]
		}
		f.Servers[fmt.Sprintf("server %d", id)] = m
		if i == 0 {
			f.Keys = m
		}
	}
	h.final = f
	h.report = history.Check(h.rec.History(), f)
}

// waitQuiescent steps until no write is in flight.
func (h *simHistory) waitQuiescent() bool {
	c := h.c
	for i := 0; !h.quiescent() && !c.failed; i++ {
		if i == 20000 {
			c.fatalf("writes still in flight after healing")
		}
		c.step(false)
	}
	return !c.failed
}

// finalSync syncs every server and steps until every sync is done; false
// if some server's machine changed meanwhile.
func (h *simHistory) finalSync(round int) bool {
	c := h.c
	h.finalSyncs = map[string]bool{}
	incs := map[int64]int{}
	for _, id := range c.ids {
		n := c.nodes[id]
		tok := string(SyncRequest(0, 0, fmt.Sprintf("final-sync-%d-%d", round, id)))
		n.syncs[tok] = c.leaderCommitted(n)
		if err := n.z.Sync([]byte(tok)); err != nil {
			c.fatalf("final sync on %d: %v", id, err)
			return false
		}
		h.finalSyncs[tok] = true
		incs[id] = n.inc
		c.process(n)
	}
	for i := 0; len(h.finalSyncs) > 0 && !c.failed; i++ {
		for _, id := range c.ids {
			if n := c.nodes[id]; n.z == nil || n.inc != incs[id] {
				c.logf("final sync round %d: %d's machine changed", round, id)
				return false
			}
		}
		if i == 20000 {
			c.fatalf("final syncs do not complete: %v", h.finalSyncs)
			return false
		}
		c.step(false)
	}
	return !c.failed && h.quiescent()
}

// quiescent says no write is in flight: one leader serves everyone, has
// committed all it proposed, every server applied all of it, and no link
// carries a request or a proposal.
func (h *simHistory) quiescent() bool {
	c := h.c
	l := c.servingLeader()
	if l == nil || !c.allServing(l) || l.z.Status().Outstanding > 0 || !c.allCaughtUp() {
		return false
	}
	for _, q := range c.links {
		for _, m := range q {
			switch m.m.Packet.Type {
			case TypeRequest, TypeProposal, TypeCommit, TypeInform:
				return false
			}
		}
	}
	return true
}

// checkHistory fails the test, with the seed, the report and the last
// events, if the schedule's client history broke a promise.
func (c *cluster) checkHistory() {
	if c.h == nil || c.failed {
		return
	}
	if !c.h.report.OK() {
		c.fatalf("client history (%d operations, bug %v) breaks ZooKeeper's promises:\n%s\nreplay: go test ./server/zab -run '^%s$' -zab.seed=%d -zab.seeds=1",
			len(c.h.rec.History().Ops), c.h.bug, c.h.report, c.t.Name(), c.seed)
	}
}

// TestHistoryCatchesInjectedBugs shows that the history checks have teeth:
// with a deliberate bug in the simulated servers (Zab itself untouched, so
// the cluster's own invariants still hold), some schedule among the first
// few fails history.Check.
func TestHistoryCatchesInjectedBugs(t *testing.T) {
	const maxSeeds = 10
	for _, bug := range []simBug{bugStaleReads, bugEarlyAck} {
		t.Run(strings.ReplaceAll(bug.String(), " ", "-"), func(t *testing.T) {
			for seed := int64(1); seed <= maxSeeds; seed++ {
				opts := simOptions{voters: 3 + 2*int(seed%2), observers: int(seed % 2), steps: 2000,
					faultRate: 0.01, midReadyCrash: 0.002, randomLeader: 0.1, clients: 4, bug: bug}
				c := runSchedule(t, seed, opts)
				if c.failed || t.Failed() {
					return
				}
				if c.h.report.OK() {
					continue
				}
				var failed []string
				for _, r := range c.h.report.Results {
					if r.Verdict != history.Pass {
						failed = append(failed, fmt.Sprintf("%s (%v, %d findings)", r.Name, r.Verdict, len(r.Findings)))
					}
				}
				t.Logf("bug %q caught at seed %d of %d, %d operations: %s", bug, seed, maxSeeds, len(c.h.rec.History().Ops), strings.Join(failed, ", "))
				return
			}
			t.Errorf("bug %q not caught in %d schedules", bug, maxSeeds)
		})
	}
}

// A known gap, the same as upstream's (ZooKeeper's sync is not a quorum
// operation): a leader that has been partitioned away, and has not noticed
// yet, answers a sync at once when it has nothing outstanding, so a read
// after that sync may miss a write the new leader's quorum had already
// acknowledged. history.Check reports it as the violation of the sync
// promise that it is. The random schedules have not reached this window
// (none of over 100,000 seeds); this scenario drives it by hand, so that the
// gap stays visible, and so that the test fails, to be updated, if sync
// changes.
func TestSyncAtDeposedLeaderIsCaught(t *testing.T) {
	c := newManual(t, 3, 0)
	c.h = newSimHistory(c, 2, bugNone)
	h := c.h
	c.reign(1, 2, 3)
	c.run()
	c.mustServe(1, 2, 3)
	old, cl1, cl2 := c.nodes[1], h.clients[0], h.clients[1]
	cl1.server, cl1.inc = 1, old.inc

	// Leader 1 is cut off; its followers notice at once, it does not.
	c.isolate(1)
	c.discs = nil
	for _, id := range []int64{2, 3} {
		c.nodes[id].z.Disconnected(1)
		c.process(c.nodes[id])
	}
	c.reign(2, 3)
	c.run()
	c.mustServe(1, 2, 3) // two leaders serve: 1 has not noticed yet
	cl2.server, cl2.inc = 2, c.nodes[2].inc
	h.write(cl2, c.nodes[2], "/k0")
	c.run()
	if len(cl2.ops) > 0 {
		t.Fatal("the write at the new leader was not acknowledged")
	}
	h.sync(cl1, old, "/k0")
	if len(cl1.ops) > 0 {
		t.Fatal("the deposed leader did not answer the sync at once")
	}
	h.read(cl1, old, "/k0") // a synced read, and stale

	// Heal: 1 notices it lost its quorum and rejoins as a follower.
	clear(c.cut)
	for i := 0; i < 3*simSyncLimit && old.z != nil; i++ {
		c.doTick()
		c.run()
	}
	if old.z != nil {
		t.Fatal("the deposed leader did not step down")
	}
	c.start(old, 2)
	c.run()
	h.finish()
	if c.failed {
		return
	}
	lin, _ := h.report.Get(history.CheckLinearizable)
	if lin.Verdict != history.Fail {
		t.Fatalf("a stale read after a sync at a deposed leader passed the linearizability check:\n%s", h.report)
	}
	for _, r := range h.report.Results {
		if r.Name != history.CheckLinearizable && r.Verdict != history.Pass {
			t.Errorf("check %s: %v, want only the linearizability check to fail:\n%s", r.Name, r.Verdict, h.report)
		}
	}
	t.Logf("caught as expected:\n%s", lin.Findings[0])
}

// A seed replays the same client history, operation for operation.
func TestSimulatedHistoryReplays(t *testing.T) {
	opts := simOptions{voters: 5, observers: 1, steps: 1500, faultRate: 0.01, midReadyCrash: 0.002, randomLeader: 0.1, clients: 4}
	a := runSchedule(t, 42, opts)
	b := runSchedule(t, 42, opts)
	if a.failed || b.failed {
		return
	}
	ha, hb := a.h.rec.History(), b.h.rec.History()
	if len(ha.Ops) < 20 {
		t.Fatalf("seed 42 recorded only %d operations", len(ha.Ops))
	}
	if !slices.Equal(a.trace, b.trace) || !reflect.DeepEqual(ha, hb) || !reflect.DeepEqual(a.h.final, b.h.final) {
		t.Fatal("seed 42 recorded two different histories")
	}
}
